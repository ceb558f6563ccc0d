// Real JVM HTTP services for issue 26 ("inside the runtime"): a service
// whose fixed handler pool deadlocks on two monitors with a background
// thread, and its healthy twins. The JVM's own threads (GC, compiler, VM
// periodic task) wake now and then whatever the handlers do, which is what
// unwedge must not mistake for work.
//
//   JvmScenario deadlock [N]  com.sun.net.httpserver with a fixed pool of N
//                             (4) handlers; each request takes CACHE then INDEX,
//                             the "index-refresher" thread holds INDEX and
//                             takes CACHE once a handler holds it: the first
//                             request deadlocks, the next three block on
//                             CACHE, later connections are accepted and
//                             queued for a handler that never comes
//   JvmScenario pool N        the same server with a fixed pool of N handler
//                             threads, all started and parked while idle;
//                             every request is answered at once (healthy)
//   JvmScenario gc            every request allocates, and a background
//                             thread churns the heap (run it with a small
//                             -Xmx): GC all the time, every request answered
//
// Prints `READY {"port": P, "pid": PID}` once listening on 127.0.0.1:0.

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;

public class JvmScenario {
    static final Object CACHE = new Object();
    static final Object INDEX = new Object();
    static final CountDownLatch HANDLER_HOLDS_CACHE = new CountDownLatch(1);
    static volatile long sink;

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "";
        int threads;
        switch (mode) {
            case "deadlock":
                threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
                startRefresher();
                break;
            case "pool":
                threads = Integer.parseInt(args[1]);
                break;
            case "gc":
                threads = 4;
                startChurner();
                break;
            default:
                System.err.println("usage: JvmScenario deadlock [N] | pool N | gc");
                System.exit(2);
                return;
        }
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 128);
        AtomicInteger n = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "handler-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        // All handlers exist from the start, parked in the pool's queue.
        ((ThreadPoolExecutor) pool).prestartAllCoreThreads();
        server.setExecutor(pool);
        server.createContext("/", ex -> handle(mode, ex));
        server.start();
        System.out.println("READY {\"port\": " + server.getAddress().getPort() + ", \"pid\": "
                + ProcessHandle.current().pid() + "}");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static void handle(String mode, HttpExchange ex) throws IOException {
        byte[] body;
        if (mode.equals("deadlock")) {
            body = lookup(ex.getRequestURI().getPath());
        } else if (mode.equals("gc")) {
            body = render(ex.getRequestURI().getPath());
        } else {
            body = "ok\n".getBytes(StandardCharsets.UTF_8);
        }
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    // The handler's lock order: CACHE, then INDEX.
    static byte[] lookup(String path) {
        synchronized (CACHE) {
            HANDLER_HOLDS_CACHE.countDown();
            synchronized (INDEX) {
                return ("found " + path + "\n").getBytes(StandardCharsets.UTF_8);
            }
        }
    }

    // The refresher's lock order: INDEX, then CACHE (the inversion). It
    // waits for a handler to hold CACHE so that the first request deadlocks
    // every time, not by chance.
    static void startRefresher() {
        Thread t = new Thread(() -> {
            synchronized (INDEX) {
                try {
                    HANDLER_HOLDS_CACHE.await();
                } catch (InterruptedException e) {
                    return;
                }
                synchronized (CACHE) {
                    sink++;
                }
            }
        }, "index-refresher");
        t.setDaemon(true);
        t.start();
    }

    // A page built from fresh objects: garbage on every request.
    static byte[] render(String path) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 2000; i++) {
            sb.append(path).append(i).append(' ');
        }
        return ("rendered " + sb.length() + "\n").getBytes(StandardCharsets.UTF_8);
    }

    // Allocates without pause, keeping a window of live objects so that
    // some survive young collections and old collections run too.
    static void startChurner() {
        Thread t = new Thread(() -> {
            List<byte[]> window = new ArrayList<>();
            long i = 0;
            while (true) {
                byte[] b = new byte[16 * 1024];
                b[(int) (i % b.length)] = (byte) i;
                window.add(b);
                if (window.size() > 1500) {
                    window.subList(0, 750).clear();
                }
                sink += b[0];
                i++;
                // 4 MiB, then a breath: GC-heavy without taking a whole core.
                if (i % 256 == 0) {
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }, "churner");
        t.setDaemon(true);
        t.start();
    }
}
