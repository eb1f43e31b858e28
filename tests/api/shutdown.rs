//! Graceful stop: on SIGTERM the server finishes the request in flight, then exits cleanly.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::Method;

use crate::helpers::TestDatabase;
use crate::process::{ADMIN_LOGIN, Remote, Served, ServerEnv, Town, signal};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish() {
    let database = TestDatabase::fresh();
    let mut env = ServerEnv::new(database.data_dir.path(), &database.url);
    env.set("KAIRAN_SERVER__SHUTDOWN_TIMEOUT_SECS", "30");
    env.create_admin(ADMIN_LOGIN);
    let remote = Remote::new(env.address());
    let mut served = Served::start(&env).await;
    let town = Town::build(&remote, 1).await;
    let post = town.publish(&remote, "停止中の添付").await;

    // An upload whose body is only half sent when the signal arrives.
    let mut stream = TcpStream::connect(("127.0.0.1", env.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST /api/v1/posts/{post}/attachments?file_name=map.pdf HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/pdf\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        town.officer,
        PDF.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&PDF[..10]).unwrap();
    stream.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    signal(served.pid(), "TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        served_is_running(&mut served),
        "the server waits for the request in flight"
    );
    stream.write_all(&PDF[10..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let status = served.wait_for_exit().await;
    assert!(status.success(), "exited with {status}");

    // What the request wrote is there after the restart.
    let served = Served::start(&env).await;
    let list = remote
        .call(
            Method::GET,
            Some(&town.officer),
            &format!("/api/v1/posts/{post}/attachments"),
            None,
            200,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(served.terminate().await.success());
}

fn served_is_running(served: &mut Served) -> bool {
    served.try_exit_status().is_none()
}
