//! An in-process server on loopback that speaks the Connect Enterprise API.
//!
//! The sandbox answers `POST /v1/auth/login` and `GET /v1/customers` the way
//! the provider's ASP.NET service does: bearer tokens, 1-based pages, empty
//! 401 bodies, a 400 envelope for bad query values, a page past the end with
//! the totals and no results. It treats customers as opaque JSON, so it
//! depends on nothing else in this crate. A [`FaultPlan`] scripts failures
//! (statuses, HTML error pages, `Retry-After`, delays, truncated and
//! gzip-encoded bodies) for tests of the client's resilience.
//!
//! ```no_run
//! # async fn run() -> Result<(), primo_connect::sandbox::SandboxError> {
//! use primo_connect::sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("serving 23 customers at {}", sandbox.base_url());
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod faults;
mod organization;
mod server;
mod synthetic;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FaultPlan, FaultRoute, FaultRule, FaultStep};
pub use organization::Organization;

/// How long [`Sandbox::shutdown`] waits for answers in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How a sandbox behaves.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The customers served. Default is [`Organization::builtin`].
    pub organization: Organization,
    /// The only bearer token accepted; `None` accepts any non-empty token.
    /// Default is `None`.
    pub token: Option<String>,
    /// A pause added before every answer. Default is none.
    pub latency: Duration,
    /// Scripted faults. Default is none.
    pub faults: FaultPlan,
    /// The loopback port to bind; 0 picks a free one. Default is 0.
    pub port: u16,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            organization: Organization::builtin(),
            token: None,
            latency: Duration::ZERO,
            faults: FaultPlan::default(),
            port: 0,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Prints in place of a secret.
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        f.debug_struct("SandboxConfig")
            .field("organization", &self.organization)
            .field("token", &self.token.as_ref().map(|_| Redacted))
            .field("latency", &self.latency)
            .field("faults", &self.faults)
            .field("port", &self.port)
            .finish()
    }
}

/// How many requests a sandbox has answered, by route.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// All requests, including those to unknown paths.
    pub total: u64,
    /// Requests to `GET /v1/customers`, whatever their outcome.
    pub customers: u64,
    /// Requests to `POST /v1/auth/login`, whatever their outcome.
    pub login: u64,
}

/// A running sandbox server, stopped by [`Sandbox::shutdown`] or on drop.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `127.0.0.1` and serves `config` from a tokio task.
    ///
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// Fails when the fault plan holds a status outside 100..=599, or the
    /// port cannot be bound.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        config.faults.validate()?;

        // Bind loopback only: the sandbox accepts any credentials.
        let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let bind_error = |source| SandboxError::Bind {
            addr: wanted,
            source,
        };
        let listener = tokio::net::TcpListener::bind(wanted)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;

        // Serve until the stop signal, then finish the answers in flight.
        let shared = Arc::new(server::Shared::new(config));
        let router = server::router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async {
                let _ = stopped.await;
            };
            // Serving only ends with an error that axum never returns.
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await;
        });

        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL to give a client, such as `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests the sandbox has answered so far.
    pub fn requests(&self) -> RequestCounts {
        self.shared.counts()
    }

    /// Stops accepting connections and waits (up to five seconds) for the
    /// answers in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            // A scripted delay can hold a connection open; do not wait for
            // ever.
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    /// Sends the stop signal; the server task then winds down by itself.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// Why a sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("could not bind the sandbox to {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The data folder could not be listed.
    #[error("could not list the data folder {}", dir.display())]
    ReadDir {
        /// The folder.
        dir: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The data folder has no `*.json` file at its top level.
    #[error("the data folder {} holds no `*.json` file", dir.display())]
    EmptyDir {
        /// The folder.
        dir: PathBuf,
    },
    /// A page file could not be read.
    #[error("could not read {}", file.display())]
    ReadFile {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// A page file is not JSON.
    #[error("{} is not JSON", file.display())]
    NotJson {
        /// The file.
        file: PathBuf,
        /// Where parsing stopped.
        #[source]
        source: serde_json::Error,
    },
    /// A page file is JSON but has no `data.results` array.
    #[error("{} has no `data.results` array", file.display())]
    NotAPage {
        /// The file.
        file: PathBuf,
    },
    /// A fault rule is not in the grammar, or holds an impossible status.
    #[error("invalid fault rule `{rule}`: {reason}")]
    FaultRule {
        /// The rule as written.
        rule: String,
        /// Which part is wrong, in words.
        reason: String,
    },
}
