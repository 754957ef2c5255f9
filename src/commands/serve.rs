use std::net::SocketAddr;
use std::path::PathBuf;

use seine_engine::Searcher;
use seine_index::IndexDir;
use seine_server::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Index directory to serve.
    index: PathBuf,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Device for query encoders: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: seine_engine::model::DeviceSpec,
    /// Requests in flight at once; more are answered 429 with Retry-After.
    #[arg(long, default_value_t = Config::default().max_in_flight)]
    max_in_flight: usize,
    /// Largest k a search may ask for.
    #[arg(long, default_value_t = Config::default().max_k)]
    max_k: usize,
    /// Longest query text, in bytes.
    #[arg(long, default_value_t = Config::default().max_query_bytes)]
    max_query_bytes: usize,
    /// Longest document or embedding input text, in bytes.
    #[arg(long, default_value_t = Config::default().max_text_bytes)]
    max_text_bytes: usize,
    /// Most documents or texts in one request.
    #[arg(long, default_value_t = Config::default().max_batch)]
    max_batch: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = Config::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = Config::default().request_timeout.as_secs())]
    timeout_s: u64,
    /// Worker threads for encoders and index work (default: the number of cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Estimated tokens (bytes / 4) of one embedding batch across queued requests.
    #[arg(long, default_value_t = Config::default().token_budget)]
    token_budget: usize,
    /// Require this key (`Authorization: Bearer KEY` or `x-api-key: KEY`) for writes,
    /// embeddings and, unless --public-search, search.
    #[arg(long, env = "SEINE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// With --api-key: search and document reads need no key.
    #[arg(long)]
    public_search: bool,
    /// Open connections at once (at most half the open-file limit); more wait.
    #[arg(long, default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// Seconds a client has to send a request's headers, and then its body.
    #[arg(long, default_value_t = Config::default().read_timeout.as_secs())]
    read_timeout_s: u64,
    /// Answer under this host name too (the Host header), besides IP addresses and
    /// localhost; repeat for more, `*` for any. Other names are refused (403): a
    /// DNS-rebinding page cannot reach the server.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// Largest metadata of one written document, in bytes (as JSON).
    #[arg(long, default_value_t = Config::default().max_metadata_bytes)]
    max_metadata_bytes: usize,
}

/// The index's writer lock, waiting up to 10 s for a previous holder to exit (a
/// restart); then the error naming who holds it.
fn writer_lock(index: &std::path::Path, holder: &str) -> anyhow::Result<seine_index::WriterLock> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut said = false;
    loop {
        match seine_index::WriterLock::acquire(index, holder) {
            Err(e @ seine_index::Error::Locked { .. }) if std::time::Instant::now() < deadline => {
                if !said {
                    eprintln!("{e}; waiting up to 10 s for it to exit");
                    said = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            r => return Ok(r?),
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    // One writer per index: a second server (or a Python Index writing) is refused,
    // with who holds it. Taken before the index is read, so nobody writes after.
    if !a.index.is_dir() {
        IndexDir::open(&a.index)?; // the usual "no such index" error
    }
    let lock = writer_lock(&a.index, &format!("seine serve on {}", a.addr))?;
    let dir = IndexDir::open(&a.index)?;
    eprintln!(
        "opening {} (replaying logged writes, if any)",
        a.index.display()
    );
    let searcher = Searcher::open_on(dir, &seine_engine::model::resolve_device(a.device)?)?;
    searcher.adopt_writer(lock)?;
    // A file-size limit must fail a write (EFBIG, answered 507), not kill the process.
    // SAFETY: setting a signal's disposition to SIG_IGN runs no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let config = Config {
        max_in_flight: a.max_in_flight,
        max_k: a.max_k,
        max_query_bytes: a.max_query_bytes,
        max_text_bytes: a.max_text_bytes,
        max_batch: a.max_batch.max(1),
        max_body_bytes: a.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(a.timeout_s.max(1)),
        workers: a
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1),
        token_budget: a.token_budget.max(1),
        api_key: a.api_key.filter(|k| !k.is_empty()),
        public_search: a.public_search,
        max_connections: a.max_connections.max(1),
        read_timeout: std::time::Duration::from_secs(a.read_timeout_s.max(1)),
        allowed_hosts: a.allow_host,
        max_metadata_bytes: a.max_metadata_bytes,
    };
    if config.public_search && config.api_key.is_none() {
        anyhow::bail!("--public-search only makes sense with --api-key");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let index = a.index.display().to_string();
    rt.block_on(seine_server::serve(searcher, a.addr, config, |bound| {
        // Printed on stdout, flushed: scripts and tests read the port from here.
        println!("listening on http://{bound} (index {index})");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }))?;
    eprintln!("server stopped");
    Ok(())
}
