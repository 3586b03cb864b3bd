//! Where ACME's account and certificates are kept: v1's `acme.json` layout (Traefik 1.7's
//! `StoredData`), behind one small interface so a key-value store can hold it later
//! (several instances sharing one account). The file is written whole, atomically (a
//! temporary file in the same directory, then a rename) and readable by its owner only;
//! a file others can read is refused with v1's error, since it holds private keys.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// v1's `acme.json`: Go's field names. `Certificate` and `Key` are PEM texts, base64'd as
/// Go encodes `[]byte`; the account's `PrivateKey` is DER, base64'd likewise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredData {
    #[serde(rename = "Account", default)]
    pub account: Option<StoredAccount>,
    #[serde(rename = "Certificates", default)]
    pub certificates: Vec<StoredCertificate>,
    /// Kept for v1's layout; trafik keeps challenges in memory only.
    #[serde(rename = "HTTPChallenges", default)]
    pub http_challenges: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "TLSChallenges", default)]
    pub tls_challenges: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredAccount {
    #[serde(rename = "Email", default)]
    pub email: String,
    #[serde(rename = "Registration", default)]
    pub registration: Option<Registration>,
    /// base64 of the key's DER: PKCS#8 for trafik's P-256 keys, PKCS#1 RSA for v1's.
    #[serde(rename = "PrivateKey", default)]
    pub private_key: String,
    /// v1's names: "P256", "4096", …
    #[serde(rename = "KeyType", default)]
    pub key_type: String,
}

/// lego's `registration.Resource`: the account's URL is what matters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub body: serde_json::Value,
    #[serde(default)]
    pub uri: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredCertificate {
    #[serde(rename = "Domain")]
    pub domain: StoredDomain,
    /// base64 of the PEM chain.
    #[serde(rename = "Certificate", default)]
    pub certificate: String,
    /// base64 of the PEM key.
    #[serde(rename = "Key", default)]
    pub key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredDomain {
    #[serde(rename = "Main", default)]
    pub main: String,
    #[serde(rename = "SANs", default)]
    pub sans: Option<Vec<String>>,
}

/// The one interface ACME's state goes through.
pub trait Storage: Send + Sync {
    fn load(&self) -> Result<StoredData, String>;
    fn save(&self, data: &StoredData) -> Result<(), String>;
}

pub struct FileStorage {
    path: PathBuf,
}

impl FileStorage {
    pub fn new(path: PathBuf) -> Self {
        FileStorage { path }
    }

    /// v1's refusal of a file group or others can read or write.
    fn check_permissions(&self) -> Result<(), String> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("acme.storage {:?}: {e}", self.path)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "permissions {mode:o} for {} are too open, please use 600",
                self.path.display()
            ));
        }
        Ok(())
    }

    /// A file that does not parse is kept aside, never overwritten: `acme.json.corrupt`,
    /// or `acme.json.corrupt.1`, `.2`… when an earlier one is kept there already (each
    /// may hold the only copy of a private key).
    fn set_aside(&self, why: &str) -> Result<StoredData, String> {
        let aside = (0..1000)
            .map(|n| {
                let mut aside = self.path.clone().into_os_string();
                aside.push(".corrupt");
                if n > 0 {
                    aside.push(format!(".{n}"));
                }
                PathBuf::from(aside)
            })
            .find(|p| !p.exists())
            .ok_or_else(|| {
                format!(
                    "acme.storage {}: {why}; and it cannot be set aside: 1000 earlier .corrupt files are kept",
                    self.path.display()
                )
            })?;
        std::fs::rename(&self.path, &aside).map_err(|e| {
            format!(
                "acme.storage {}: {why}; and it cannot be set aside: {e}",
                self.path.display()
            )
        })?;
        tracing::error!(
            "acme.storage {}: {why}; set aside as {}, starting with no account or certificate",
            self.path.display(),
            aside.display()
        );
        Ok(StoredData::default())
    }
}

impl Storage for FileStorage {
    fn load(&self) -> Result<StoredData, String> {
        self.check_permissions()?;
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoredData::default()),
            Err(e) => return Err(format!("acme.storage {}: {e}", self.path.display())),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(StoredData::default());
        }
        match serde_json::from_slice(&bytes) {
            Ok(data) => Ok(data),
            Err(e) => self.set_aside(&format!("not v1's acme.json: {e}")),
        }
    }

    fn save(&self, data: &StoredData) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(data).map_err(|e| e.to_string())?;
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty());
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "acme.json".into());
        let tmp = dir
            .unwrap_or(Path::new("."))
            .join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("acme.storage {}: cannot write: {e}", self.path.display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Traefik 1.7 wrote (values shortened).
    const V1: &str = r#"{
      "Account": {
        "Email": "test@traefik.io",
        "Registration": {"body": {"status": "valid", "contact": ["mailto:test@traefik.io"]},
                         "uri": "https://acme-v02.api.letsencrypt.org/acme/acct/1"},
        "PrivateKey": "MIIJKAIBAAKCAgEA",
        "KeyType": "4096"
      },
      "Certificates": [
        {"Domain": {"Main": "a.com", "SANs": ["www.a.com"]}, "Certificate": "LS0t", "Key": "LS0t"}
      ],
      "HTTPChallenges": {},
      "TLSChallenges": {}
    }"#;

    #[test]
    fn reads_v1_layout_and_writes_it_back_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.json");
        std::fs::write(&path, V1).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = FileStorage::new(path.clone());
        let data = s.load().unwrap();
        let account = data.account.clone().unwrap();
        assert_eq!(account.email, "test@traefik.io");
        assert!(account.registration.unwrap().uri.ends_with("/acct/1"));
        assert_eq!(
            data.certificates[0].domain.sans.as_deref(),
            Some(&["www.a.com".to_string()][..])
        );
        s.save(&data).unwrap();
        assert_eq!(s.load().unwrap(), data);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn loose_permissions_are_refused_and_corrupt_files_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.json");
        std::fs::write(&path, "{not json").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = FileStorage::new(path.clone());
        let e = s.load().unwrap_err();
        assert!(
            e.starts_with("permissions 644 for ") && e.ends_with("are too open, please use 600"),
            "{e}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(s.load().unwrap(), StoredData::default());
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("acme.json.corrupt")).unwrap(),
            "{not json"
        );
        // Corrupt again: the earlier file aside is kept, this one goes next to it.
        std::fs::write(&path, "[1,").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(s.load().unwrap(), StoredData::default());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("acme.json.corrupt")).unwrap(),
            "{not json"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("acme.json.corrupt.1")).unwrap(),
            "[1,"
        );
    }
}
