import fs from 'node:fs';
import path from 'node:path';
import { describeConfig } from './config';

// `npm run docs:config`: rewrites the README's configuration table from the one config spec.
const readme = path.join(__dirname, '..', '..', 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const start = text.indexOf('| Variable | Default | Meaning |');
const end = text.indexOf('\n\n', start);
if (start < 0 || end < 0) throw new Error('README.md has no configuration table to replace');
fs.writeFileSync(readme, `${text.slice(0, start)}${describeConfig()}${text.slice(end)}`);
console.log('README.md configuration table updated');
