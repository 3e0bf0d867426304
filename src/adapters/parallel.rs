//! Concurrency with a bound: many AWS or API-server calls at once, never more than a limit.

use std::future::Future;

/// Run `f` on every item, at most `limit` at a time, and return the results in input order.
pub(crate) async fn bounded_map<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
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
    results
        .into_iter()
        .map(|r| r.expect("every task ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Proves both halves of "bounded": the tasks did overlap (a sequential run peaks at 1), and
    /// never more than `limit` of them at once. The first `limit` tasks sleep longest, so all of
    /// them are in flight together before any finishes.
    #[tokio::test]
    async fn bounded_map_keeps_order_and_limits_concurrency() {
        const LIMIT: usize = 3;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let out = bounded_map((0..20u64).collect(), LIMIT, |i| {
            let (running, peak, started) = (running.clone(), peak.clone(), started.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20 - i)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(started.load(Ordering::SeqCst), 20, "every item ran once");
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            peak > 1,
            "never more than one task in flight: ran sequentially"
        );
        assert!(peak <= LIMIT, "{peak} tasks in flight, limit {LIMIT}");
        assert_eq!(peak, LIMIT, "the limit is also reached");
    }
}
