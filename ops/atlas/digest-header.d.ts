/** digest-header (CommonJS, no bundled types): the Authorization header answering a digest challenge. */
declare module 'digest-header' {
  function digestAuthHeader(method: string, uri: string, wwwAuthenticate: string, userpass: string): string;
  export = digestAuthHeader;
}
