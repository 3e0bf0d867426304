//! `audit --all-clusters`: every EKS cluster in the chosen regions, audited concurrently with
//! bounded parallelism, in one report.

use std::future::Future;

/// Run `f` on every item, at most `limit` at a time, and return the results in input order.
pub async fn bounded_map<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let mut pending = items.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    for (i, item) in pending.by_ref().take(limit.max(1)) {
        let fut = f(item);
        running.spawn(async move { (i, fut.await) });
    }
    while let Some(done) = running.join_next().await {
        let (i, r) = match done {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("task failed: {e}"),
        };
        results[i] = Some(r);
        if let Some((i, item)) = pending.next() {
            let fut = f(item);
            running.spawn(async move { (i, fut.await) });
        }
    }
    results.into_iter().map(|r| r.expect("every task ran")).collect()
}
