//! Credentials from the Docker config (`$DOCKER_CONFIG/config.json`):
//! `auths`, `credsStore` and `credHelpers` (`docker-credential-*`), read
//! with the docker_credential crate, which implements that lookup order.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use super::RegistryError;

/// Docker keeps Docker Hub's credentials under its v1 index address.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The credentials configured for `registry`, or anonymous access.
pub fn credentials(registry: &str) -> Result<RegistryAuth, RegistryError> {
    let key = match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY,
        other => other,
    };
    let failed = |reason: String| RegistryError::Credentials {
        registry: registry.to_string(),
        reason,
    };
    match docker_credential::get_credential(key) {
        Ok(DockerCredential::UsernamePassword(user, password)) => Ok(RegistryAuth::Basic(user, password)),
        // An identity token is an OAuth refresh token that must be traded
        // for an access token; oci-client has no such exchange.
        Ok(DockerCredential::IdentityToken(_)) => Err(failed(
            "the Docker config holds an identity token, which wasmpack cannot use yet; log in with a username and password or token".into(),
        )),
        Err(CredentialRetrievalError::NoCredentialConfigured | CredentialRetrievalError::ConfigNotFound) => Ok(RegistryAuth::Anonymous),
        // The crate says the same for a missing and a malformed file; only
        // the missing one means "no credentials".
        Err(CredentialRetrievalError::ConfigReadError) => match config_file() {
            Some(path) if path.exists() => Err(failed(format!("{} cannot be read as a Docker config", path.display()))),
            _ => Ok(RegistryAuth::Anonymous),
        },
        Err(e) => Err(failed(e.to_string())),
    }
}

/// Where docker (and so docker_credential) looks for its config file.
fn config_file() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".docker"))
        })?;
    Some(dir.join("config.json"))
}
