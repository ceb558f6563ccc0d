// Story 1 in C++: Session::wait_for_filter joins (std::thread::join) the
// filter thread, which reads an upstream that never answers; the client's
// request waits unread. Built by the tests with `c++ -O2 -pthread`, no -g.
// Usage: story1_proxy_cpp UPSTREAM_PORT
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace proxy {

class Session {
  public:
    Session(int client, int upstream_port) : client_(client), upstream_port_(upstream_port) {}
    __attribute__((noinline)) long relay_upstream_filter(int up);
    __attribute__((noinline)) int wait_for_filter(std::thread &t);
    __attribute__((noinline)) void run();

  private:
    int client_;
    int upstream_port_;
};

long Session::relay_upstream_filter(int up)
{
    static const char req[] = "GET /big.pdf HTTP/1.1\r\nHost: origin\r\n\r\n";
    char buf[4096];
    if (send(up, req, sizeof req - 1, 0) < 0)
        return -1;
    return recv(up, buf, sizeof buf, 0);
}

int Session::wait_for_filter(std::thread &t)
{
    t.join();
    std::fprintf(stderr, "filter of client %d done\n", client_);
    return 0;
}

void Session::run()
{
    std::thread t([this] {
        int up = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(upstream_port_);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(up, (sockaddr *)&a, sizeof a) != 0)
            std::exit(1);
        relay_upstream_filter(up);
        close(up);
    });
    pthread_setname_np(t.native_handle(), "ssl-filter");
    wait_for_filter(t);
}

} // namespace proxy

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (bind(l, (sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0)
        return 1;
    getsockname(l, (sockaddr *)&a, &n);
    std::printf("READY {\"port\": %d}\n", ntohs(a.sin_port));
    std::fflush(stdout);
    int c = accept(l, nullptr, nullptr);
    proxy::Session s(c, std::atoi(argv[1]));
    s.run();
    close(c);
    return 0;
}
