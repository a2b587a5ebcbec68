//! The fast path allocates nothing while it integrates: a counting global allocator (this
//! test binary's own) sees no allocation during a beat with pumps on both sides, once the
//! output buffer has its capacity.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use impella_sim::devices::Position;
use impella_sim::engine::BeatSystem;
use impella_sim::physiology::presets;
use impella_sim::solver::{FastTsit5, Integrator, SolverSettings};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn integrating_a_beat_allocates_nothing() {
    let circ = common::circulation(
        presets::preset("scai_d_biv").unwrap().parameters(),
        &[("cp", 8, Position::Correct), ("rp", 6, Position::Correct)],
    );
    let mut integrator = FastTsit5::new(SolverSettings::default());
    let n = 800;
    let mut out = Vec::with_capacity(n + 1);
    let mut y = circ.initial_state();
    let mut t = 0.0;
    for beat in 0..5 {
        let clock = circ.clock(t);
        out.clear();
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        y = integrator
            .integrate(
                &BeatSystem { circ: &circ, clock },
                t,
                t + clock.period,
                &y,
                n,
                &mut out,
            )
            .unwrap();
        let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(during, 0, "beat {beat}: {during} allocations");
        assert_eq!(out.len(), n + 1);
        t += clock.period;
    }
    assert!(integrator.stats().accepted_steps > 100);
}
