import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

// Runs mongo-java-server on loopback: `java -cp "<jars>/*" Launcher.java <port> [memory|<h2 file>]`.
// Reports MongoDB 5.0 / wire 13 because the Node driver 7.x refuses the stock wire version 8.
public class Launcher {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String storage = args.length > 1 ? args[1] : "memory";
    MongoBackend backend = storage.equals("memory") ? new MemoryBackend() : new H2Backend(storage);
    backend.version(new MongoVersion() {
      public List<Integer> getVersionArray() { return List.of(5, 0, 0); }
      public int getWireVersion() { return 13; }
    });
    MongoServer server = new MongoServer(backend);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
    server.bind("127.0.0.1", port);
    System.out.println("listening 127.0.0.1:" + port + " storage=" + storage);
    // The parent holds our stdin open; when it dies (even by SIGKILL) stdin closes and we exit,
    // so a crashed test run never leaves a database server behind.
    if (System.getenv("LAUNCHER_STAY_DETACHED") == null) {
      while (System.in.read() != -1) { }
      System.exit(0);
    }
  }
}
