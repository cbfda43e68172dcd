//! Moving images to and from OCI registries (Docker Hub included) with
//! oci-client: credentials from the Docker config, blobs before manifests,
//! every pulled byte verified and bounded in size, rate and time, retries
//! on transient failures.

mod auth;
mod limits;
mod pull;
mod push;
mod retry;

pub use limits::{LimitError, TransferLimits};
pub use pull::pull_image;
pub use push::{push_image, push_owned_image, PushReport};

use std::time::Duration;

use limits::FetchError;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use wasmpack_oci::layout::LayoutError;
use wasmpack_oci::name::parse_reference;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain http instead of https (for registries on localhost).
    pub insecure: bool,
    /// Show progress bars (on a terminal).
    pub progress: bool,
    /// How slow and how long a pull's transfers may be.
    pub limits: TransferLimits,
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid image reference {reference:?}: {reason}")]
    Reference { reference: String, reason: String },
    #[error("credentials for {registry}: {reason}")]
    Credentials { registry: String, reason: String },
    #[error("{what} at {reference}")]
    Transfer {
        what: String,
        reference: String,
        #[source]
        source: oci_client::errors::OciDistributionError,
    },
    #[error("{reference}: the registry refused the credentials (docker login, or DOCKER_CONFIG, sets them)")]
    Unauthorized { reference: String },
    #[error("{what} at {reference}")]
    Limit {
        what: String,
        reference: String,
        #[source]
        source: LimitError,
    },
    #[error("{reference}: {reason}")]
    Content { reference: String, reason: String },
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// A parsed reference, a client configured for its registry, and the
/// credentials the Docker config holds for it.
pub(crate) struct Session {
    pub reference: Reference,
    pub client: Client,
    pub auth: RegistryAuth,
    /// For a pull's requests, whose bodies oci-client would read
    /// unbounded: the same timeouts, our own size limits.
    pub http: reqwest::Client,
    /// `http` or `https`, as `client` reaches this registry.
    pub scheme: &'static str,
    pub limits: TransferLimits,
    /// The pull's bearer token, once authorized (`Some(None)`: the
    /// registry wants none): every GET of the pull reuses it, instead of a
    /// `/v2/` challenge and a token request per blob.
    pub pull_token: tokio::sync::Mutex<Option<Option<String>>>,
}

impl Session {
    pub fn open(reference: &str, options: &RegistryOptions) -> Result<Self, RegistryError> {
        let parsed = parse_reference(reference).map_err(|e| RegistryError::Reference {
            reference: reference.to_string(),
            reason: e.to_string(),
        })?;
        let registry = parsed.resolve_registry().to_string();
        let setting_up = |source| RegistryError::Transfer {
            what: "setting up the client".into(),
            reference: reference.to_string(),
            source,
        };
        let connect_timeout = Duration::from_secs(10);
        let read_timeout = Duration::from_secs(60);
        let config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::HttpsExcept(vec![registry.clone()])
            } else {
                ClientProtocol::Https
            },
            // One PUT per blob, as docker and skopeo do, rather than many
            // chunked PATCH round trips.
            use_monolithic_push: true,
            connect_timeout: Some(connect_timeout),
            read_timeout: Some(read_timeout),
            ..Default::default()
        };
        let client = Client::try_from(config).map_err(setting_up)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("wasmpack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .build()
            .map_err(|e| setting_up(e.into()))?;
        Ok(Self {
            auth: auth::credentials(&registry)?,
            reference: parsed,
            client,
            http,
            scheme: if options.insecure { "http" } else { "https" },
            limits: options.limits,
            pull_token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn transfer_error(
        &self,
        what: impl Into<String>,
    ) -> impl FnOnce(oci_client::errors::OciDistributionError) -> RegistryError + '_ {
        let what = what.into();
        move |source| {
            if retry::is_unauthorized(&source) {
                RegistryError::Unauthorized {
                    reference: self.reference.whole(),
                }
            } else {
                RegistryError::Transfer {
                    what,
                    reference: self.reference.whole(),
                    source,
                }
            }
        }
    }

    /// [`Session::transfer_error`], for fetches a limit may cut off.
    pub fn fetch_error(
        &self,
        what: impl Into<String>,
    ) -> impl FnOnce(FetchError) -> RegistryError + '_ {
        let what = what.into();
        move |error| match error {
            FetchError::Registry(source) => self.transfer_error(what)(source),
            FetchError::Limit(source) => RegistryError::Limit {
                what,
                reference: self.reference.whole(),
                source,
            },
        }
    }
}

/// A progress bar over `total` bytes when asked for, else nothing.
pub(crate) fn progress_bar(
    options: &RegistryOptions,
    total: u64,
    verb: &str,
) -> indicatif::ProgressBar {
    if !options.progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(verb.to_string());
    bar
}
