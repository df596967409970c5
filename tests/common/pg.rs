//! A throwaway PostgreSQL cluster for one test: `initdb` and `pg_ctl` from the installed
//! server binaries, in a temp dir, listening on 127.0.0.1 on a free port, stopped when dropped.
//!
//! When the binaries are not installed the tests that need one are skipped with a note, except
//! under CI (`CI` set), where that is a failure: `.ci/run` installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Run the server binaries as this user (initdb refuses root).
    user: Option<String>,
    pub port: u16,
}

/// The folder of `initdb` and `pg_ctl`: Debian's newest, else the PATH's.
fn bindir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return Some(b);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl tool; the
/// server's files belong to the server's user (it refuses a key others can read).
fn certificates(dir: &Path, uid: Option<u32>) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl tool is needed for the TLS tests");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=memscope test CA",
        "-days",
        "2",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    use std::os::unix::fs::PermissionsExt;
    for f in ["server.crt", "server.key"] {
        let p = dir.join(f);
        std::os::unix::fs::chown(&p, uid, None).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Runs `statements` on `url` as a plain client, on a thread and runtime of its own (callers
/// may be inside one); the rows of the last statement, as text.
pub fn sql(url: &str, statements: &str) -> Vec<Vec<Option<String>>> {
    let (url, statements) = (url.to_string(), statements.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut rows = Vec::new();
            for m in client.simple_query(&statements).await.unwrap() {
                match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        rows.push((0..r.len()).map(|i| r.get(i).map(String::from)).collect())
                    }
                    tokio_postgres::SimpleQueryMessage::CommandComplete(_) => {}
                    _ => {}
                }
            }
            rows
        })
    })
    .join()
    .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// A running cluster, or None (with a note) when PostgreSQL is not installed here.
    pub fn start() -> Option<Cluster> {
        Cluster::start_with(false)
    }

    /// A running cluster that also takes TLS connections, with a certificate for 127.0.0.1
    /// signed by a CA of its own (`ca.crt` in [`Cluster::dir`]).
    pub fn start_with_tls() -> Option<Cluster> {
        Cluster::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Cluster> {
        let Some(bin) = bindir() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "the PostgreSQL server binaries are not installed (CI must install them)"
            );
            eprintln!("note: PostgreSQL is not installed; this test is skipped");
            return None;
        };
        let root = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::Builder::new().prefix("pg").tempdir().unwrap();
        let user = root.then(|| "postgres".to_string());
        let uid = root.then(|| {
            let out = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "no postgres user to run the server as"
            );
            let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), None).unwrap();
            uid
        });
        let ssl = if tls {
            certificates(dir.path(), uid);
            format!(
                " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                dir.path().display()
            )
        } else {
            String::new()
        };
        let mut c = Cluster {
            dir,
            bin,
            user,
            port: free_port(),
        };
        let data = c.data();
        c.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "memscope",
                "-N",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let opts = |port: u16| {
            format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off{}",
                c.dir.path().display(),
                ssl
            )
        };
        let log = c.dir.path().join("log");
        // A port taken between choosing it and starting is tried again with another.
        for _ in 0..3 {
            if c.try_run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-o",
                    &opts(c.port),
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "start",
                ],
            ) {
                return Some(c);
            }
            c.port = free_port();
        }
        panic!(
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(tool);
        match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(exe).args(args);
                c
            }
            None => {
                let mut c = Command::new(exe);
                c.args(args);
                c
            }
        }
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> bool {
        self.command(tool, args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool, args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL of the database `db` (made first when it is not `postgres`).
    pub fn url(&self, db: &str) -> String {
        let url = format!("postgres://memscope@127.0.0.1:{}/{db}", self.port);
        if db != "postgres" {
            sql(&self.url("postgres"), &format!("CREATE DATABASE {db}"));
        }
        url
    }

    /// The store path memscope is given for the database `db`.
    pub fn store(&self, db: &str) -> PathBuf {
        PathBuf::from(self.url(db))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            )
            .output();
    }
}
