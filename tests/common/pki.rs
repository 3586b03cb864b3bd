//! Certificates made by the tests: a private CA issuing server and client certificates.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM text.
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (CN = the first name, `org` as O).
    pub fn server(&self, names: &[&str], org: &str) -> Pem {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate (mTLS) with the given CN.
    pub fn client(&self, cn: &str) -> Pem {
        let mut params = CertificateParams::new(vec![format!("{cn}.clients.test")]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Clients Inc");
        params.distinguished_name.push(DnType::CountryName, "FR");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Pem {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// Runs `openssl s_client` against `127.0.0.1:port` with `args` (and no input, so it
/// ends after the handshake); returns (handshake succeeded, stdout + stderr).
pub async fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let mut cmd = std::process::Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(std::process::Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run openssl"))
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // s_client exits 0 on some refused handshakes; a received certificate is the proof.
    let ok = out.status.success() && text.contains("Server certificate");
    (ok, text)
}

/// The subject CN of the certificate `s_client` received, from its `subject=` line.
pub fn served_cn(s_client_output: &str) -> Option<String> {
    let line = s_client_output
        .lines()
        .find(|l| l.starts_with("subject="))?;
    let cn = line
        .split("CN = ")
        .nth(1)
        .or_else(|| line.split("CN=").nth(1))?;
    Some(cn.split(',').next().unwrap_or(cn).trim().to_string())
}

/// Runs `curl` with `args`; returns (exit success, stdout, stderr).
pub async fn curl(args: &[String]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "--noproxy", "*"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run curl"))
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub async fn wait_listening(port: u16) {
    super::eventually(&format!("127.0.0.1:{port} to accept"), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await
}
