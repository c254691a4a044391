//! Shards that any of several threads may run: each shard takes its batches one at a time and
//! in the order they were dealt, whichever thread is free takes the next one it can. With two
//! workers on two cores the front's thread and one worker thread share the analysis this way
//! ([`super::run_pooled`]), so neither waits on a split fixed in advance: how much of a pass
//! reading takes (on small packets a third, on large ones half) depends on the trace.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Shards of type `S` and the batches of type `B` dealt to them.
pub(super) struct ShardPool<S, B> {
    state: Mutex<PoolState<S, B>>,
    /// A batch was dealt, a shard came back, or the pool closed.
    changed: Condvar,
}

struct PoolState<S, B> {
    /// Batches not yet taken, in the order dealt, with their shard's index.
    queued: VecDeque<(usize, B)>,
    /// Each shard; `None` while a thread runs it.
    shards: Vec<Option<S>>,
    /// Batches run, with their shard's index, for the dealer to fill again.
    spare: Vec<(usize, B)>,
    /// No more batches come (the capture ended, or the pass stopped).
    closed: bool,
    /// The pass stopped: batches still queued are dropped.
    stopped: bool,
    /// Threads asleep on `changed` (woken only when there are: a wake-up is a system call).
    asleep: usize,
}

impl<S, B> PoolState<S, B> {
    /// Nothing more will run here.
    fn finished(&self) -> bool {
        self.stopped || (self.closed && self.queued.is_empty())
    }

    fn can_take(&self) -> bool {
        !self.stopped
            && self
                .queued
                .iter()
                .any(|(index, _)| self.shards[*index].is_some())
    }
}

/// A shard taken out of the pool with its next batch; [`ShardPool::put_back`] returns it.
pub(super) struct Taken<S, B> {
    pub index: usize,
    pub shard: S,
    pub batch: B,
}

/// Which runnable batch a thread takes (see [`ShardPool::take_from`]).
#[derive(Clone, Copy)]
enum Pick {
    /// Worker thread `thread` of `threads`: its own shards' earliest, else any's earliest.
    Home { thread: usize, threads: usize },
    /// The front's thread helping: the highest-numbered shard's earliest (the worker threads
    /// start from the lowest).
    LastShard,
}

/// What a thread waiting for a batch does meanwhile: `true` if it did something (it will look
/// for a batch again), `false` to sleep until something changes.
pub(super) type Meanwhile<'a> = &'a dyn Fn() -> bool;

impl<S, B> ShardPool<S, B> {
    pub fn new(shards: Vec<S>) -> Self {
        ShardPool {
            state: Mutex::new(PoolState {
                queued: VecDeque::new(),
                shards: shards.into_iter().map(Some).collect(),
                spare: Vec::new(),
                closed: false,
                stopped: false,
                asleep: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState<S, B>> {
        // A thread that panicked while holding the lock left the state whole (every change
        // under it is a single push or take).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one batch per shard (batch `i` for shard `i`).
    pub fn deal(&self, batches: impl IntoIterator<Item = B>) {
        let mut state = self.lock();
        state.queued.extend(batches.into_iter().enumerate());
        self.wake(state);
    }

    fn wake(&self, state: MutexGuard<'_, PoolState<S, B>>) {
        let asleep = state.asleep > 0;
        drop(state);
        if asleep {
            self.changed.notify_all();
        }
    }

    /// Batches run since the last call, to fill again.
    pub fn take_spare(&self) -> Vec<(usize, B)> {
        std::mem::take(&mut self.lock().spare)
    }

    /// The batch `pick` chooses among the runnable ones: the first queued batch of a shard no
    /// thread is running (a shard's first queued batch is its earliest, so each shard runs
    /// its batches in order).
    fn take_from(state: &mut PoolState<S, B>, pick: Pick) -> Option<Taken<S, B>> {
        if state.stopped {
            return None;
        }
        let runnable = |&(index, _): &(usize, B)| state.shards[index].is_some();
        let earliest = |mine: &dyn Fn(usize) -> bool| {
            state.queued.iter().position(|q| mine(q.0) && runnable(q))
        };
        let at = match pick {
            Pick::Home { thread, threads } => {
                earliest(&|shard| shard % threads == thread).or_else(|| earliest(&|_| true))?
            }
            Pick::LastShard => {
                let shard = state
                    .queued
                    .iter()
                    .filter(|q| runnable(q))
                    .map(|q| q.0)
                    .max()?;
                earliest(&|s| s == shard)?
            }
        };
        let (index, batch) = state.queued.remove(at)?;
        let shard = state.shards[index].take()?;
        Some(Taken {
            index,
            shard,
            batch,
        })
    }

    /// A batch to run now, if more than `keep_queued` are queued (the dealing thread helps
    /// only when the worker threads fall behind) and one of them can run. The helper takes
    /// from the last shards, the worker threads ([`ShardPool::take_for`]) from the first, so a
    /// shard's connections mostly stay in one core's cache: taking the earliest batch too,
    /// the helper moved shards between the two threads from epoch to epoch (small-packet
    /// trace, two workers: ~3 % more CPU over 25 paired runs).
    pub fn try_take(&self, keep_queued: usize) -> Option<Taken<S, B>> {
        let mut state = self.lock();
        if state.queued.len() <= keep_queued {
            return None;
        }
        Self::take_from(&mut state, Pick::LastShard)
    }

    /// The next batch to run, waiting for one; `None` once the pool is closed and nothing
    /// queued can run, or the pass stopped. While none can run, `meanwhile` is called.
    #[cfg(test)]
    pub fn take(&self, meanwhile: Meanwhile<'_>) -> Option<Taken<S, B>> {
        self.take_for(0, 1, meanwhile)
    }

    /// [`ShardPool::take`] for worker thread `thread` of `threads`: the earliest batch of its
    /// own shards (`shard % threads == thread`) if one can run, else the earliest of any.
    /// A shard's connections then mostly stay in one core's cache; taking the earliest of
    /// any, each batch of a shard ran on another thread than its last with odds
    /// (threads - 1) / threads.
    pub fn take_for(
        &self,
        thread: usize,
        threads: usize,
        meanwhile: Meanwhile<'_>,
    ) -> Option<Taken<S, B>> {
        let pick = Pick::Home {
            thread,
            threads: threads.max(1),
        };
        let mut state = self.lock();
        loop {
            if let Some(taken) = Self::take_from(&mut state, pick) {
                return Some(taken);
            }
            if state.finished() {
                return None;
            }
            drop(state);
            let busy = meanwhile();
            state = self.lock();
            // Looked at again under the lock before sleeping, so no wake-up is missed.
            if busy || state.finished() || state.can_take() {
                continue;
            }
            state.asleep += 1;
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            state.asleep -= 1;
        }
    }

    /// Returns a shard taken with its batch, emptied by the caller, and wakes threads waiting
    /// for its next batch.
    pub fn put_back(&self, index: usize, shard: S, batch: B) {
        let mut state = self.lock();
        state.shards[index] = Some(shard);
        state.spare.push((index, batch));
        self.wake(state);
    }

    /// No more batches will be dealt; with `stopped`, those queued are dropped too.
    pub fn close(&self, stopped: bool) {
        let mut state = self.lock();
        state.closed = true;
        state.stopped |= stopped;
        if stopped {
            state.queued.clear();
        }
        self.wake(state);
    }

    /// The shards, once no thread runs any (`None` if one is still out: a thread panicked).
    pub fn into_shards(self) -> Option<Vec<S>> {
        let state = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        state.shards.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two threads run 4 shards' batches of 200 rounds, one of them slowed at random: every
    /// shard sees its batches in the order dealt, and every batch is run once.
    #[test]
    fn each_shard_runs_its_batches_in_order_whichever_thread_takes_them() {
        const SHARDS: usize = 4;
        const ROUNDS: u32 = 200;
        let pool = ShardPool::<Vec<u32>, u32>::new(vec![Vec::new(); SHARDS]);
        let ran_by_helper = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let mut runs = 0;
                while let Some(Taken {
                    index,
                    mut shard,
                    batch,
                }) = pool.take(&|| false)
                {
                    if batch % 7 == 0 {
                        std::thread::yield_now();
                    }
                    shard.push(batch);
                    pool.put_back(index, shard, batch);
                    runs += 1;
                }
                runs
            });
            for round in 0..ROUNDS {
                pool.deal((0..SHARDS).map(|_| round));
                let _ = pool.take_spare();
                while let Some(Taken {
                    index,
                    mut shard,
                    batch,
                }) = pool.try_take(SHARDS)
                {
                    shard.push(batch);
                    pool.put_back(index, shard, batch);
                    ran_by_helper.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            pool.close(false);
            let by_worker = worker.join().unwrap();
            assert_eq!(
                by_worker + ran_by_helper.load(std::sync::atomic::Ordering::Relaxed),
                SHARDS * ROUNDS as usize
            );
        });
        for shard in pool.into_shards().expect("every shard came back") {
            assert_eq!(shard, (0..ROUNDS).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_thread_waiting_is_let_go_when_the_pool_closes_or_stops() {
        let pool = ShardPool::<(), u8>::new(vec![(); 2]);
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| pool.take(&|| false).is_none());
            std::thread::sleep(std::time::Duration::from_millis(20));
            pool.close(false);
            assert!(waiting.join().unwrap());
        });
        let pool = ShardPool::<(), u8>::new(vec![(); 2]);
        pool.deal([1, 2]);
        pool.close(true);
        assert!(
            pool.take(&|| false).is_none(),
            "a stopped pool runs nothing more"
        );
    }

    #[test]
    fn a_worker_thread_takes_its_own_shards_first_then_any() {
        let pool = ShardPool::<(), u8>::new(vec![(); 4]);
        pool.deal([10, 11, 12, 13]);
        pool.deal([20, 21, 22, 23]);
        let take = |thread| {
            let Taken { index, batch, .. } = pool.take_for(thread, 2, &|| false).unwrap();
            (index, batch)
        };
        // Thread 1 of 2 owns shards 1 and 3; thread 0 shards 0 and 2.
        assert_eq!(take(1), (1, 11));
        assert_eq!(take(0), (0, 10));
        assert_eq!(take(1), (3, 13));
        // Its own are out (shards run one batch at a time): the earliest of the others.
        assert_eq!(take(1), (2, 12));
    }

    #[test]
    fn the_helper_takes_only_what_exceeds_what_it_leaves_queued_from_the_last_shard() {
        let pool = ShardPool::<(), u8>::new(vec![(); 3]);
        pool.deal([1, 2, 3]);
        assert!(pool.try_take(3).is_none());
        pool.deal([4, 5, 6]);
        let first = pool.try_take(3).expect("six queued, three kept");
        assert_eq!((first.index, first.batch), (2, 3));
        // Shard 2 is out: its next batch (6) waits; shard 1's first (2) is the helper's next.
        let Taken { index, batch, .. } = pool.try_take(0).expect("shard 1 is free");
        assert_eq!((index, batch), (1, 2));
        // A worker thread takes the earliest batch it can: shard 0's first.
        let Taken { index, batch, .. } = pool.take(&|| false).expect("shard 0 is free");
        assert_eq!((index, batch), (0, 1));
    }
}
