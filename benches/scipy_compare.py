"""The one-minute benchmark run in SciPy, for a side-by-side with the Rust paths.

The normal adult without a pump (src/physiology/presets.rs, equations in docs/model.md),
75 beats at HR 75 from static equilibrium, each beat one solve_ivp call with 1 ms samples,
like the Rust runs. Error: the last beat against a tight-tolerance DOP853 run, measured as in
benches/common/mod.rs (largest over the states of max|y - y_ref| / max|y_ref|).

Run by hand, not in CI:  python3 -m pip install numpy scipy && python3 benches/scipy_compare.py
(measured with Python 3.11, NumPy and SciPy 1.17).
Results: docs/benchmarks.md.
"""

import math
import time

import numpy as np
from scipy.integrate import solve_ivp

BEATS = 75
HR, PR = 75.0, 0.16
PERIOD = 60.0 / HR
SAMPLES = 800  # per beat: 1 ms
T_REF = 0.8  # s, period at which the activation time constants are given

# Chambers: (E_es mmHg/mL, V_0 mL, A mmHg, B 1/mL).
LA, LV, RA, RV = (0.48, 10.0, 0.44, 0.058), (2.21, 5.0, 0.34, 0.029), \
    (0.38, 10.0, 0.44, 0.046), (0.74, 5.0, 0.34, 0.028)
R_MV, R_AV, R_TV, R_PV = 0.0158, 0.018, 0.0237, 0.0055  # competent valves, mmHg·s/mL
# Circulations: C_prox, Vu_prox, R_c, L, C_art, Vu_art, R_periph, C_ven, Vu_ven, R_ven.
SYS = (0.28, 0.0, 0.06, 2.2e-4, 1.45, 611.0, 0.9, 111.0, 2496.0, 0.02)
PUL = (0.76, 0.0, 0.023, 1.8e-4, 2.7, 123.0, 0.053, 25.37, 120.0, 0.0056)
PERI = (0.5003, 0.03, 200.0)  # P0 mmHg, lambda 1/mL, V0 mL
BLOOD_VOLUME = 4900.0


class TwoHill:
    """e(t) = k·g1/(1+g1)·1/(1+g2), g_i = (t/τ_i)^m_i, peak normalised to 1 (as in Rust)."""

    def __init__(self, tau1, tau2, m1, m2):
        s = math.sqrt(PERIOD / T_REF)
        self.tau1, self.tau2, self.m1, self.m2 = tau1 * s, tau2 * s, m1, m2
        self.k = 1.0
        # Grid search, then golden section (src/physiology/activation.rs).
        t_max, n = 2.0 * self.tau2, 400
        best_t = max((t_max * i / n for i in range(1, n + 1)), key=self.shape)
        a, b = max(best_t - t_max / n, 0.0), best_t + t_max / n
        phi = 0.5 * (math.sqrt(5.0) - 1.0)
        for _ in range(80):
            c, d = b - phi * (b - a), a + phi * (b - a)
            if self.shape(c) > self.shape(d):
                b = d
            else:
                a = c
        self.k = 1.0 / self.shape(0.5 * (a + b))

    def shape(self, t):
        if t <= 0.0:
            return 0.0
        g1 = (t / self.tau1) ** self.m1
        g2 = (t / self.tau2) ** self.m2
        return self.k * g1 / (1.0 + g1) / (1.0 + g2)


VENTRICLE = TwoHill(0.215, 0.362, 1.32, 27.4)
ATRIUM = TwoHill(0.088, 0.144, 1.32, 13.1)


def chamber(c, e, v):
    ees, v0, a, b = c
    return e * ees * (v - v0) + (1.0 - e) * a * (math.exp(b * (v - v0)) - 1.0)


def valve(dp, r):
    return dp / r if dp >= 0.0 else 0.0


def rhs(t, y, t_start):
    v_la, v_lv, v_ra, v_rv, v_ao, v_sa, v_sv, v_pa, v_pad, v_pv, q_ao, q_pa = y[:12]
    tv = t - t_start
    ta = tv + PR if tv < PERIOD - PR else tv - (PERIOD - PR)
    e_v, e_a = VENTRICLE.shape(tv), ATRIUM.shape(ta)
    p0, lam, v0 = PERI
    p_peri = p0 * (math.exp(lam * (v_lv + v_rv - v0)) - 1.0)
    p_la, p_ra = chamber(LA, e_a, v_la), chamber(RA, e_a, v_ra)
    p_lv, p_rv = chamber(LV, e_v, v_lv) + p_peri, chamber(RV, e_v, v_rv) + p_peri
    cp, vup, rc, ind, ca, vua, rp, cv, vuv, rv = SYS
    p_ao, p_sa, p_sv = (v_ao - vup) / cp, (v_sa - vua) / ca, (v_sv - vuv) / cv
    q_svr, q_ven_sys, dq_ao = (p_sa - p_sv) / rp, (p_sv - p_ra) / rv, (p_ao - p_sa - rc * q_ao) / ind
    cp, vup, rc, ind, ca, vua, rp, cv, vuv, rv = PUL
    p_pa, p_pad, p_pv = (v_pa - vup) / cp, (v_pad - vua) / ca, (v_pv - vuv) / cv
    q_pvr, q_ven_pul, dq_pa = (p_pad - p_pv) / rp, (p_pv - p_la) / rv, (p_pa - p_pad - rc * q_pa) / ind
    q_mv, q_av = valve(p_la - p_lv, R_MV), valve(p_lv - p_ao, R_AV)
    q_tv, q_pv = valve(p_ra - p_rv, R_TV), valve(p_rv - p_pa, R_PV)
    return [q_ven_pul - q_mv, q_mv - q_av, q_ven_sys - q_tv, q_tv - q_pv, q_av - q_ao,
            q_ao - q_svr, q_svr - q_ven_sys, q_pv - q_pa, q_pa - q_pvr, q_pvr - q_ven_pul,
            dq_ao, dq_pa, 0.0, 0.0]


def initial_state():
    """Static equilibrium: every compartment at one pressure, volumes adding up (docs/model.md)."""
    def volumes(pm):
        chambers = [c[1] + math.log(max(pm / c[2] + 1.0, 1e-12)) / c[3] for c in (LA, LV, RA, RV)]
        vessels = []
        for c_prox, vu_prox, _, _, c_art, vu_art, _, c_ven, vu_ven, _ in (SYS, PUL):
            vessels += [vu_prox + c_prox * pm, vu_art + c_art * pm, vu_ven + c_ven * pm]
        return chambers + vessels
    lo, hi = 0.0, 100.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if sum(volumes(mid)) < BLOOD_VOLUME else (lo, mid)
    y = volumes(0.5 * (lo + hi)) + [0.0] * 4
    y[6] += BLOOD_VOLUME - sum(y[:10])  # bisection residue into the systemic veins
    return np.array(y)


def minute(method, tol):
    """75 beats; returns (last beat's samples as a 14 × 801 array, wall time s)."""
    y, t = initial_state(), 0.0
    start = time.perf_counter()
    for _ in range(BEATS):
        grid = t + PERIOD * np.arange(SAMPLES + 1) / SAMPLES
        sol = solve_ivp(rhs, (t, t + PERIOD), y, method=method, t_eval=grid, args=(t,),
                        rtol=tol, atol=tol, max_step=0.01)
        assert sol.success, sol.message
        y, t = sol.y[:, -1], t + PERIOD
    return sol.y, time.perf_counter() - start


def error(y, y_ref):
    scale = np.abs(y_ref).max(axis=1)
    diff = np.abs(y - y_ref).max(axis=1)
    return max(d / s for d, s in zip(diff, scale) if s > 0.0)


def main():
    y_ref, _ = minute("DOP853", 1e-12)
    # Same model as the Rust runs: examples/accuracy.rs prints these for its tight run.
    print(f"tight run, last beat: LV volume {y_ref[1].min():.6f} .. {y_ref[1].max():.6f} mL, "
          f"aortic volume {y_ref[4].min():.6f} .. {y_ref[4].max():.6f} mL")
    print(f"{'method':8} {'tol':>7} {'beats/s':>8} {'error':>9}")
    for method in ("RK45", "LSODA"):
        for tol in (1e-6, 1e-7, 1e-8, 1e-9):
            y, seconds = minute(method, tol)
            print(f"{method:8} {tol:7.0e} {BEATS / seconds:8.1f} {error(y, y_ref):9.2e}")


if __name__ == "__main__":
    main()
