//! A broker the harness starts itself (`--target-cmd`), which is what makes
//! `crash` (kill) and `restart` (start again) possible against a live
//! broker.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How long a started broker may take to accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(20);

/// The placeholder in the command that is replaced by the port.
pub const PORT_PLACEHOLDER: &str = "{port}";

pub struct BrokerProcess {
    command: String,
    port: u16,
    child: Option<Child>,
}

impl BrokerProcess {
    /// Picks a free loopback port; the command gets it for `{port}`.
    pub fn new(command: &str) -> io::Result<BrokerProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(BrokerProcess {
            command: command.replace(PORT_PLACEHOLDER, &port.to_string()),
            port,
            child: None,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker through `sh -c` in a process group of its own
    /// (so that a kill reaches the broker and anything the command
    /// started) and waits until it accepts.
    pub async fn start(&mut self) -> io::Result<()> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(io::Error::other(format!(
                    "the broker command exited at once ({status}): {}",
                    self.command
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill().await;
                return Err(io::Error::other(format!(
                    "the broker did not accept on port {} within {}s: {}",
                    self.port,
                    READY_TIMEOUT.as_secs(),
                    self.command
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The exit status of a started broker that has ended on its own;
    /// `None` while it runs, and after [`kill`](Self::kill).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Kills the broker at once (SIGKILL to its process group): its
    /// connections are reset.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&child);
            let _ = child.kill().await;
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            kill_group(child);
        }
    }
}

/// The group's id is the shell's pid, since it leads its own group.
fn kill_group(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
