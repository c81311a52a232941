//! A broker the harness starts itself (`--target-cmd`, or a profile's
//! `start`), which is what makes `crash` (kill) and `restart` (start again)
//! possible against a live broker, and a broker that died or wedged
//! replaceable between scenarios.

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
/// The placeholder in a profile's command that is replaced by the path of
/// its written configuration file.
pub const CONFIG_PLACEHOLDER: &str = "{config}";
/// The configuration file's name when the profile names none.
pub const CONFIG_FILE_DEFAULT: &str = "broker.conf";

pub struct BrokerProcess {
    command: String,
    port: u16,
    child: Option<Child>,
    /// The directory holding the written configuration, removed on drop.
    config_dir: Option<std::path::PathBuf>,
}

impl BrokerProcess {
    /// Picks a free loopback port; the command gets it for `{port}`.
    pub fn new(command: &str) -> io::Result<BrokerProcess> {
        let port = free_port()?;
        Ok(BrokerProcess {
            command: command.replace(PORT_PLACEHOLDER, &port.to_string()),
            port,
            child: None,
            config_dir: None,
        })
    }

    /// As [`new`](Self::new) for a profile's `start`: its `config` (with
    /// `{port}` replaced) is written to a fresh directory under the system's
    /// temporary directory, as `config_file`, and `{config}` in the command
    /// is that file's path.
    pub fn from_start(start: &crate::profile::Start) -> io::Result<BrokerProcess> {
        let port = free_port()?;
        let mut command = start.command.replace(PORT_PLACEHOLDER, &port.to_string());
        let mut config_dir = None;
        if let Some(template) = &start.config {
            let dir =
                std::env::temp_dir().join(format!("mqtt-sim-broker-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let name = start.config_file.as_deref().unwrap_or(CONFIG_FILE_DEFAULT);
            if name.is_empty() || name.contains('/') {
                return Err(io::Error::other(format!(
                    "the profile's config_file `{name}` must be a plain file name"
                )));
            }
            let file = dir.join(name);
            std::fs::write(&file, template.replace(PORT_PLACEHOLDER, &port.to_string()))?;
            command = command.replace(CONFIG_PLACEHOLDER, &file.to_string_lossy());
            config_dir = Some(dir);
        } else if command.contains(CONFIG_PLACEHOLDER) {
            return Err(io::Error::other(
                "the profile's start command names {config} but the profile has no `config`",
            ));
        }
        Ok(BrokerProcess {
            command,
            port,
            child: None,
            config_dir,
        })
    }

    /// The process id of the started command, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref()?.id()
    }

    /// The command as run, placeholders replaced.
    pub fn command(&self) -> &str {
        &self.command
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
        if let Some(dir) = &self.config_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
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
