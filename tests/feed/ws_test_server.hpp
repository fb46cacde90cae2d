// WsTestServer: a loopback Binance look-alike for feed tests. It replays a real capture over
// /stream?streams=…, serves /api/v3/depth from its own book, and injects faults on request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cwts::test {

struct WsTestServerOptions {
  std::string capture_path;        // `<receive ns> <payload>` lines; one bare REST snapshot line
  std::string symbol = "NKNUSDT";  // the only symbol /api/v3/depth answers for
  // Pause between stream frames; 0 = as fast as the socket takes them.
  std::chrono::microseconds frame_interval{1000};
  // The first time the replay reaches the capture's snapshot line it waits until a snapshot has
  // been served, so the first sync follows the recorded order exactly (first diff buffered,
  // snapshot lastUpdateId 499869752 bracketing the next).
  bool gate_at_snapshot = true;
  // Upgrades on any target, not only /stream?streams=... (a WebSocket API client's /ws-api/v3),
  // replaying the same frames.
  bool ws_any_target = false;

  // Faults. Each fires once; indices count stream frames (capture lines other than the REST
  // snapshot) from 0; -1 = off.
  std::int64_t drop_at = -1;   // close the TCP connection abruptly instead of sending this frame
  std::int64_t stall_at = -1;  // before this frame, send nothing for stall_for (socket stays open)
  std::chrono::milliseconds stall_for{0};
  std::int64_t skip_depth_from = -1;  // never send the first depthUpdate at or after this index
                                      // (the server's book still applies it: the market moved)
  std::int64_t ping_at = -1;          // send a ping with ping_payload before this frame
  std::string ping_payload = "cwts-ping";
  std::int64_t shutdown_at = -1;  // send serverShutdown before this frame, then go quiet on that
                                  // connection (without closing it), like Binance before a cut

  // Snapshot faults.
  bool stale_snapshots = false;      // always serve the capture's own snapshot, however far the
                                     // market has moved (the client must refuse it as too old)
  std::uint32_t fail_snapshots = 0;  // answer the first N depth requests with fail_status
  unsigned fail_status = 503;
  std::uint32_t retry_after_s = 0;  // Retry-After header on failures (0 = none)

  // PEM certificate chain and key: serve wss/https instead of ws/http.
  std::string tls_cert_pem;
  std::string tls_key_pem;
};

// Runs on its own thread with its own io_context, on 127.0.0.1 and an ephemeral port; one port
// serves both the WebSocket upgrade and plain HTTP. The replay position (the "market") is
// global: a client that reconnects picks up where the market is, as on a real venue, and the
// newest WebSocket session is the one that receives frames. Snapshots are the server's book at
// its current position, truncated to `limit` levels, with that position's lastUpdateId.
class WsTestServer {
 public:
  struct Stats {
    std::uint64_t ws_sessions = 0;
    std::uint64_t depth_requests = 0;
    std::uint64_t frames_sent = 0;
    std::uint64_t drops = 0;
    std::uint64_t stalls = 0;
    std::uint64_t skips = 0;
    std::uint64_t pings_sent = 0;
    std::uint64_t shutdowns_sent = 0;
    std::uint64_t closes_received = 0;  // WS close frames from the client
    std::vector<std::string> pongs;     // payload of every pong received
    std::vector<std::string> ws_targets;
    std::vector<std::string> http_targets;
    std::uint64_t http_connections = 0;  // TCP connections that carried REST requests
    std::vector<std::chrono::steady_clock::time_point> depth_request_times;
    std::vector<std::uint64_t> snapshot_ids;  // lastUpdateId of every snapshot served
    std::uint64_t market_id = 0;              // the server book's update id
    bool replay_done = false;                 // every stream frame has gone out
  };

  // Loads the capture, binds, and starts the thread. Throws if the capture cannot be read.
  explicit WsTestServer(WsTestServerOptions opts);
  ~WsTestServer();
  WsTestServer(const WsTestServer&) = delete;
  WsTestServer& operator=(const WsTestServer&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::string ws_url() const;    // ws://127.0.0.1:PORT (wss with TLS)
  [[nodiscard]] std::string rest_url() const;  // http://127.0.0.1:PORT (https with TLS)
  [[nodiscard]] std::size_t stream_frames() const;

  // Any thread.
  [[nodiscard]] Stats stats() const;
  // Waits until `pred(stats)` holds (checked whenever the stats change) or the timeout passes.
  bool wait_for(const std::function<bool(const Stats&)>& pred,
                std::chrono::milliseconds timeout) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::test
