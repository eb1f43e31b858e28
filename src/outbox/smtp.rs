//! SMTP connections of the mailer (D79): lettre's SMTP client over sockets opened here with
//! `TCP_NODELAY`, kept open between mails and jobs (up to `email.concurrency`, each idle at
//! most `IDLE`).
//!
//! Why not lettre's own pooled transport: it writes a mail's text and the closing
//! `\r\n.\r\n` as two small writes, and its sockets keep Nagle's algorithm on, so the second
//! write waits for the server's ACK of the first, which Linux delays by 40 ms (the server
//! says nothing until the mail is complete). Measured: 178 mails/s at 8 in flight, about
//! 45 ms each, with the CPU idle (docs/benchmarks.md). With Nagle off the closing write
//! leaves at once.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long an open connection may wait for the next mail (servers close idle ones after
/// a few minutes; Postfix's `smtpd_timeout` is 300 s).
const IDLE: Duration = Duration::from_secs(30);

/// How a connection is secured, as the URL says (the same forms as lettre's `from_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://host`: plain.
    Plain,
    /// `smtp://host?tls=required` (or `opportunistic`): STARTTLS.
    StartTls { required: bool },
    /// `smtps://host`: TLS from the first byte.
    Wrapper,
}

/// Where and how to send, from `email.smtp_url`.
pub struct Server {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl Server {
    /// `smtp://[user:pass@]host[:port][/hello-name][?tls=required|opportunistic]` or
    /// `smtps://…`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let bad = || anyhow::anyhow!("email.smtp_url is not an smtp:// or smtps:// address");
        let url = url::Url::parse(text).map_err(|_| bad())?;
        let host = url.host_str().ok_or_else(bad)?.to_string();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", _) => (Security::Wrapper, 465),
            _ => return Err(bad()),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = url
            .password()
            .map(|password| Credentials::new(decode(url.username()), decode(password)));
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
        })
    }
}

/// Why a mail was not sent: what the server answered, or that it could not be reached.
#[derive(Debug)]
pub enum SendError {
    Smtp(lettre::transport::smtp::Error),
    Network(io::Error),
}

impl SendError {
    /// A 5xx answer: sending again would be refused again.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp(e) if e.is_permanent())
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SendError::Smtp(e) => e.status().map(u16::from),
            SendError::Network(_) => None,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Smtp(e) => write!(f, "{e}"),
            SendError::Network(e) => write!(f, "{e}"),
        }
    }
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        SendError::Smtp(e)
    }
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        SendError::Network(e)
    }
}

/// A TLS stream lettre can speak SMTP over (`smtps://`).
#[derive(Debug)]
struct TlsStream(tokio_native_tls::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().get_ref().get_ref().peer_addr()
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Open SMTP connections, shared by the mailer's concurrent sends and kept between jobs.
pub struct Connections {
    server: Server,
    timeout: Duration,
    /// Idle connections and when each was last used.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    keep: usize,
}

impl Connections {
    pub fn new(server: Server, timeout: Duration, keep: usize) -> Self {
        Self {
            server,
            timeout,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.server;
        let tcp = TcpStream::connect((s.host.as_str(), s.port)).await?;
        tcp.set_nodelay(true)?;
        let mut connection = match s.security {
            Security::Wrapper => {
                let connector = native_tls::TlsConnector::new().map_err(io::Error::other)?;
                let tls = tokio_native_tls::TlsConnector::from(connector)
                    .connect(&s.host, tcp)
                    .await
                    .map_err(io::Error::other)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsStream(tls)), &s.hello)
                    .await?
            }
            Security::Plain | Security::StartTls { .. } => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &s.hello).await?
            }
        };
        if let Security::StartTls { required } = s.security {
            if connection.can_starttls() {
                let parameters = TlsParameters::new(s.host.clone())?;
                connection.starttls(parameters, &s.hello).await?;
            } else if required {
                connection.abort().await;
                return Err(io::Error::other("the SMTP server offers no STARTTLS").into());
            }
        }
        if let Some(credentials) = &s.credentials {
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            connection.auth(&mechanisms, credentials).await?;
        }
        Ok(connection)
    }

    /// An idle connection that has not waited too long (and whether it is one), else a
    /// new one.
    async fn take(&self) -> Result<(AsyncSmtpConnection, bool), SendError> {
        let reusable = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.retain(|(_, at)| at.elapsed() < IDLE);
            idle.pop()
        };
        match reusable {
            Some((connection, _)) => Ok((connection, true)),
            None => Ok((self.connect().await?, false)),
        }
    }

    fn put_back(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push((connection, Instant::now()));
        }
    }

    /// Sends one mail in one SMTP transaction on a kept connection (within the timeout). A
    /// kept connection the server has closed meanwhile is replaced once by a new one.
    pub async fn send(&self, envelope: &Envelope, mail: &[u8]) -> Result<Response, SendError> {
        let attempt = async {
            let (mut connection, reused) = self.take().await?;
            let mut sent = connection.send(envelope, mail).await;
            if reused && sent.as_ref().is_err_and(|e| !e.is_response()) {
                connection = self.connect().await?;
                sent = connection.send(envelope, mail).await;
            }
            self.put_back(connection);
            Ok::<_, SendError>(sent?)
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "SMTP timed out").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_forms_of_lettre_are_read_the_same_way() {
        let plain = Server::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 2525));
        assert_eq!(plain.security, Security::Plain);
        assert!(plain.credentials.is_none());

        let starttls = Server::parse("smtp://mail.example.jp?tls=required").unwrap();
        assert_eq!(starttls.port, 587);
        assert_eq!(starttls.security, Security::StartTls { required: true });

        let wrapped =
            Server::parse("smtps://user%40city:p%2Fss@mail.example.jp/kairan.example.jp").unwrap();
        assert_eq!(wrapped.port, 465);
        assert_eq!(wrapped.security, Security::Wrapper);
        assert!(wrapped.credentials.is_some());
        assert_eq!(
            wrapped.hello,
            ClientId::Domain("kairan.example.jp".to_string())
        );

        for bad in [
            "http://mail.example.jp",
            "smtp://",
            "smtp://h?tls=maybe",
            "mail",
        ] {
            assert!(Server::parse(bad).is_err(), "{bad}");
        }
    }
}
