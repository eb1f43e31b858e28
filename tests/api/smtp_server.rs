//! An SMTP receiver on loopback standing in for the city's mail server: it speaks just enough
//! SMTP for lettre, keeps every mail, and can refuse recipients (550) or defer them (451).

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the receiver answers RCPT TO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// 451: try again later.
    Defer,
    /// 550: no such mailbox.
    Refuse,
}

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    /// The raw message as received (headers and encoded body).
    pub raw: String,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.raw.split_once("\r\n\r\n")?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    /// The subject with RFC 2047 encoded words decoded (lettre writes `=?utf-8?b?…?=`);
    /// space between two encoded words is not part of the text.
    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        let mut text = String::new();
        let mut previous_encoded = false;
        for word in raw.split_whitespace() {
            let decoded = word
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
                .and_then(|b| STANDARD.decode(b).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let joins_encoded = previous_encoded && decoded.is_some();
            if !text.is_empty() && !joins_encoded {
                text.push(' ');
            }
            previous_encoded = decoded.is_some();
            text.push_str(&decoded.unwrap_or_else(|| word.to_string()));
        }
        text
    }

    /// The text body, decoded from base64 or quoted-printable as its header says, with
    /// plain line ends.
    pub fn body(&self) -> String {
        self.decoded_body().replace("\r\n", "\n")
    }

    fn decoded_body(&self) -> String {
        let (_, body) = self.raw.split_once("\r\n\r\n").unwrap_or_default();
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        match encoding.as_str() {
            "base64" => {
                let joined: String = body.split_whitespace().collect();
                String::from_utf8(STANDARD.decode(joined).unwrap_or_default()).unwrap_or_default()
            }
            "quoted-printable" => decode_quoted_printable(body),
            _ => body.to_string(),
        }
    }

    /// Every `http://…/links/…` address in the body.
    pub fn links(&self) -> Vec<String> {
        self.body()
            .split_whitespace()
            .filter(|w| w.starts_with("http") && w.contains("/links/"))
            .map(str::to_string)
            .collect()
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone)]
pub struct SmtpServer {
    pub url: String,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    answer: Arc<Mutex<Answer>>,
    /// How long each mail's DATA takes before it is accepted (a slow server).
    delay: Arc<Mutex<std::time::Duration>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let server = SmtpServer {
            url,
            mails: Arc::default(),
            answer: Arc::new(Mutex::new(Answer::Accept)),
            delay: Arc::default(),
        };
        let shared = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(shared.clone().session(stream));
            }
        });
        server
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Each mail from now on takes `delay` before the server accepts it.
    pub fn slow_down(&self, delay: std::time::Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn mails_to(&self, address: &str) -> Vec<ReceivedMail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to == address)
            .collect()
    }

    async fn session(self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let _ = write.write_all(b"220 stand-in ESMTP\r\n").await;
        let mut to = String::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                b"250-stand-in\r\n250 8BITMIME\r\n"
            } else if command.starts_with("MAIL FROM") {
                b"250 ok\r\n"
            } else if command.starts_with("RCPT TO") {
                to = line
                    .trim_end()
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(address, _)| address.to_string())
                    .unwrap_or_default();
                match *self.answer.lock().unwrap() {
                    Answer::Accept => b"250 ok\r\n",
                    Answer::Defer => b"451 try again later\r\n",
                    Answer::Refuse => b"550 no such mailbox\r\n",
                }
            } else if command == "DATA" {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut raw = String::new();
                loop {
                    let mut data = String::new();
                    if lines.read_line(&mut data).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if data == ".\r\n" {
                        break;
                    }
                    raw.push_str(data.strip_prefix('.').unwrap_or(&data));
                }
                let delay = *self.delay.lock().unwrap();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                self.mails.lock().unwrap().push(ReceivedMail {
                    to: to.clone(),
                    raw,
                });
                b"250 queued\r\n"
            } else if command == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"250 ok\r\n"
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}
