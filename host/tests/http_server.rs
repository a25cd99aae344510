//! The accept loop against slow and silent clients.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use order_host::http::serve;

/// Everything the server sends on `stream` until it closes it, or `None` if it keeps it open for `wait`.
fn read_until_closed(mut stream: TcpStream, wait: Duration) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    match stream.read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(out),
        Err(e) => panic!("reading: {e}"),
    }
}

fn request(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"GET /ping HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    String::from_utf8_lossy(&read_until_closed(stream, Duration::from_secs(10)).expect("answered")).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    // Before, `axum::serve` set no timer: hyper's header timeout never fired and a connection that sent half a
    // request line stayed open for as long as the client liked.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/ping", get(|| async { "pong" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let server = tokio::spawn(serve(listener, router, shutdown, Duration::from_millis(300)));

    let checks = tokio::task::spawn_blocking(move || {
        let mut silent = TcpStream::connect(addr).unwrap();
        silent.write_all(b"GET /ping HTTP/1.1\r\nHost: te").unwrap();
        let idle = TcpStream::connect(addr).unwrap();
        // Well-behaved clients are served meanwhile.
        assert!(request(addr).ends_with("pong"));
        // Both stalled connections are closed by the server, long before the 10 s this waits.
        assert!(read_until_closed(silent, Duration::from_secs(10)).is_some(), "a half-sent request was kept open");
        assert!(read_until_closed(idle, Duration::from_secs(10)).is_some(), "a silent connection was kept open");
        assert!(request(addr).ends_with("pong"));
    });
    checks.await.unwrap();

    // Shutdown stops accepting and returns once the connections are done.
    stop.send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    stopped.expect("the server stopped once asked").unwrap().unwrap();
}
