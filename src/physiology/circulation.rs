//! The closed-loop circulation: state layout, pressures and flows, and the right-hand side.
//!
//! LA -mitral-> LV -aortic-> Ao =R_c,L=> SA -SVR-> SV -R_v-> RA -tricuspid-> RV
//! -pulmonary-> PA =R_c,L=> PAD -PVR-> PV -R_v-> LA.
//! Pumps (docs/devices.md) add a cannula flow from an inlet to an outlet compartment: left
//! devices LV -> Ao, right devices RA -> PA.
//! Every flow leaves one volume and enters another, so the sum of the volume states (the
//! total blood volume) is constant by construction. Equations: docs/model.md.

use nalgebra::SVector;

use thiserror::Error;

use super::activation::{Activation, BeatClock};
use super::elements::{
    chamber_pressures, chamber_pressures_lanes, edpvr_volume, pericardial_pressure,
    pericardial_pressures_lanes, regurgitant_area, septal_balance, valve_flow, valve_flow_on,
    vessel_pressure,
};
use super::parameters::{ActivationParams, CirculationParams, Parameters};
use crate::devices::{InletSuction, Position, Pump, Side};

/// Named slots of the state vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Slot {
    /// Left atrial volume, mL.
    VLa,
    /// Left ventricular volume, mL.
    VLv,
    /// Right atrial volume, mL.
    VRa,
    /// Right ventricular volume, mL.
    VRv,
    /// Proximal aortic volume, mL.
    VAo,
    /// Systemic arterial volume, mL.
    VSa,
    /// Systemic venous volume, mL.
    VSv,
    /// Main pulmonary artery volume, mL.
    VPa,
    /// Distal pulmonary arterial volume, mL.
    VPad,
    /// Pulmonary venous volume, mL.
    VPv,
    /// Flow from proximal aorta to systemic arteries (through R_c and L), mL/s.
    QAo,
    /// Flow from main to distal pulmonary arteries, mL/s.
    QPa,
    /// Cannula flow of the left-sided pump (0 without one), mL/s.
    QPumpL,
    /// Cannula flow of the right-sided pump (0 without one), mL/s.
    QPumpR,
}

/// Valve-law branches held whatever the pressure difference across the valves: bit i set =
/// valve i on its forward branch, in the order of [`Circulation::switching`] (mitral, aortic,
/// tricuspid, pulmonary; higher bits are ignored). See [`Circulation::rhs_on`].
pub type ValveBranches = u32;

/// Number of state variables.
pub const N_STATES: usize = 14;

/// The state vector (stack-allocated).
pub type State = SVector<f64, N_STATES>;

impl Slot {
    /// All slots in state-vector order.
    pub const ALL: [Slot; N_STATES] = [
        Slot::VLa,
        Slot::VLv,
        Slot::VRa,
        Slot::VRv,
        Slot::VAo,
        Slot::VSa,
        Slot::VSv,
        Slot::VPa,
        Slot::VPad,
        Slot::VPv,
        Slot::QAo,
        Slot::QPa,
        Slot::QPumpL,
        Slot::QPumpR,
    ];
    /// The slots that hold blood volumes (their sum is the total blood volume).
    pub const VOLUMES: [Slot; 10] = [
        Slot::VLa,
        Slot::VLv,
        Slot::VRa,
        Slot::VRv,
        Slot::VAo,
        Slot::VSa,
        Slot::VSv,
        Slot::VPa,
        Slot::VPad,
        Slot::VPv,
    ];

    /// Index in the state vector.
    #[inline(always)]
    pub const fn i(self) -> usize {
        self as usize
    }

    /// Column name with unit, as written to timeseries.csv.
    pub const fn name(self) -> &'static str {
        match self {
            Slot::VLa => "v_la_ml",
            Slot::VLv => "v_lv_ml",
            Slot::VRa => "v_ra_ml",
            Slot::VRv => "v_rv_ml",
            Slot::VAo => "v_ao_ml",
            Slot::VSa => "v_sa_ml",
            Slot::VSv => "v_sv_ml",
            Slot::VPa => "v_pa_ml",
            Slot::VPad => "v_pad_ml",
            Slot::VPv => "v_pv_ml",
            Slot::QAo => "q_ao_sa_ml_s",
            Slot::QPa => "q_pa_pad_ml_s",
            Slot::QPumpL => "q_pump_left_ml_s",
            Slot::QPumpR => "q_pump_right_ml_s",
        }
    }
}

/// Pressures (mmHg) and flows (mL/s) at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hemodynamics {
    /// Ventricular activation (0–1).
    pub e_v: f64,
    /// Atrial activation (0–1).
    pub e_a: f64,
    /// Pericardial pressure, mmHg.
    pub p_peri: f64,
    /// Septal displacement x towards the RV, mL (0 with the septum off). Not a column of
    /// [`Hemodynamics::NAMES`].
    pub x_spt: f64,
    /// Left atrial pressure, mmHg.
    pub p_la: f64,
    /// Left ventricular pressure, mmHg.
    pub p_lv: f64,
    /// Right atrial pressure, mmHg.
    pub p_ra: f64,
    /// Right ventricular pressure, mmHg.
    pub p_rv: f64,
    /// Proximal aortic pressure, mmHg.
    pub p_ao: f64,
    /// Systemic arterial pressure, mmHg.
    pub p_sa: f64,
    /// Systemic venous pressure, mmHg.
    pub p_sv: f64,
    /// Main pulmonary artery pressure, mmHg.
    pub p_pa: f64,
    /// Distal pulmonary arterial pressure, mmHg.
    pub p_pad: f64,
    /// Pulmonary venous pressure, mmHg.
    pub p_pv: f64,
    /// Mitral flow, mL/s (negative = regurgitant).
    pub q_mv: f64,
    /// Aortic-valve flow, mL/s (negative = regurgitant).
    pub q_av: f64,
    /// Tricuspid flow, mL/s.
    pub q_tv: f64,
    /// Pulmonary-valve flow, mL/s.
    pub q_pv: f64,
    /// Flow through SVR, mL/s.
    pub q_svr: f64,
    /// Flow through PVR, mL/s.
    pub q_pvr: f64,
    /// Systemic venous return into the RA, mL/s.
    pub q_ven_sys: f64,
    /// Pulmonary venous return into the LA, mL/s.
    pub q_ven_pul: f64,
    /// Left pump cannula flow, mL/s.
    pub q_pump_l: f64,
    /// Right pump cannula flow, mL/s.
    pub q_pump_r: f64,
    /// Left pump inlet obstruction resistance, mmHg·s/mL.
    pub r_suction_l: f64,
    /// Right pump inlet obstruction resistance, mmHg·s/mL.
    pub r_suction_r: f64,
}

impl Hemodynamics {
    /// Pressure of a volume compartment, mmHg.
    #[inline(always)]
    pub fn pressure(&self, slot: Slot) -> f64 {
        match slot {
            Slot::VLa => self.p_la,
            Slot::VLv => self.p_lv,
            Slot::VRa => self.p_ra,
            Slot::VRv => self.p_rv,
            Slot::VAo => self.p_ao,
            Slot::VSa => self.p_sa,
            Slot::VSv => self.p_sv,
            Slot::VPa => self.p_pa,
            Slot::VPad => self.p_pad,
            Slot::VPv => self.p_pv,
            Slot::QAo | Slot::QPa | Slot::QPumpL | Slot::QPumpR => f64::NAN,
        }
    }

    /// Column names with units, in the order of [`Hemodynamics::values`].
    pub const NAMES: [&'static str; 21] = [
        "p_la_mmhg",
        "p_lv_mmhg",
        "p_ra_mmhg",
        "p_rv_mmhg",
        "p_ao_mmhg",
        "p_sa_mmhg",
        "p_sv_mmhg",
        "p_pa_mmhg",
        "p_pad_mmhg",
        "p_pv_mmhg",
        "p_peri_mmhg",
        "q_mv_ml_s",
        "q_av_ml_s",
        "q_tv_ml_s",
        "q_pv_ml_s",
        "q_svr_ml_s",
        "q_pvr_ml_s",
        "r_suction_left_mmhg_s_ml",
        "r_suction_right_mmhg_s_ml",
        "e_v",
        "e_a",
    ];

    /// Values in the order of [`Hemodynamics::NAMES`].
    pub fn values(&self) -> [f64; 21] {
        [
            self.p_la,
            self.p_lv,
            self.p_ra,
            self.p_rv,
            self.p_ao,
            self.p_sa,
            self.p_sv,
            self.p_pa,
            self.p_pad,
            self.p_pv,
            self.p_peri,
            self.q_mv,
            self.q_av,
            self.q_tv,
            self.q_pv,
            self.q_svr,
            self.q_pvr,
            self.r_suction_l,
            self.r_suction_r,
            self.e_v,
            self.e_a,
        ]
    }
}

/// The part of [`Hemodynamics`] the beat metrics take from every sample: left-heart, right
/// atrial and proximal arterial pressures (mmHg) and the mitral and aortic flows (mL/s).
/// Computing only these skips the right ventricle's EDPVR (unless the septum is on: the
/// septal balance needs it), the peripheral and venous flows and the other valves, which the
/// metrics do not use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPressures {
    /// Left atrial pressure, mmHg.
    pub p_la: f64,
    /// Left ventricular pressure, mmHg.
    pub p_lv: f64,
    /// Right atrial pressure, mmHg.
    pub p_ra: f64,
    /// Proximal aortic pressure, mmHg.
    pub p_ao: f64,
    /// Main pulmonary artery pressure, mmHg.
    pub p_pa: f64,
    /// Mitral flow, mL/s (negative = regurgitant).
    pub q_mv: f64,
    /// Aortic-valve flow, mL/s (negative = regurgitant).
    pub q_av: f64,
}

impl MetricPressures {
    /// Pressure of a compartment a left pump can eject into (aorta or LV), mmHg; NaN for
    /// others.
    #[inline(always)]
    pub fn outlet_pressure(&self, slot: Slot) -> f64 {
        match slot {
            Slot::VAo => self.p_ao,
            Slot::VLv => self.p_lv,
            _ => f64::NAN,
        }
    }
}

/// [`MetricPressures`] of a block of `B` samples, field by field: lane j of each array is
/// sample j's ([`Circulation::metric_pressures_block`]).
#[derive(Debug, Clone, Copy)]
pub struct MetricBlock<const B: usize> {
    /// Left atrial pressure, mmHg.
    pub p_la: [f64; B],
    /// Left ventricular pressure, mmHg.
    pub p_lv: [f64; B],
    /// Right atrial pressure, mmHg.
    pub p_ra: [f64; B],
    /// Proximal aortic pressure, mmHg.
    pub p_ao: [f64; B],
    /// Main pulmonary artery pressure, mmHg.
    pub p_pa: [f64; B],
    /// Mitral flow, mL/s (negative = regurgitant).
    pub q_mv: [f64; B],
    /// Aortic-valve flow, mL/s (negative = regurgitant).
    pub q_av: [f64; B],
}

impl<const B: usize> MetricBlock<B> {
    /// Sample j's values.
    #[inline(always)]
    pub fn lane(&self, j: usize) -> MetricPressures {
        MetricPressures {
            p_la: self.p_la[j],
            p_lv: self.p_lv[j],
            p_ra: self.p_ra[j],
            p_ao: self.p_ao[j],
            p_pa: self.p_pa[j],
            q_mv: self.q_mv[j],
            q_av: self.q_av[j],
        }
    }
}

/// A pump coupled between two compartments.
#[derive(Debug, Clone)]
pub struct PumpCoupling {
    /// The device.
    pub pump: Pump,
    /// Compartment the pump draws from.
    pub inlet: Slot,
    /// Compartment the pump ejects into.
    pub outlet: Slot,
    /// Its cannula-flow state.
    pub flow: Slot,
    /// Inlet obstruction when the inlet is a chamber that can empty.
    pub suction: Option<InletSuction>,
}

/// A pump that cannot be placed as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CouplingError {
    /// Two pumps on one side.
    #[error("two {side} pumps ({first} and {second}): at most one left-sided and one right-sided device")]
    SideTaken {
        /// "left" or "right".
        side: &'static str,
        /// Catalogue id of the pump already there.
        first: String,
        /// Catalogue id of the one that does not fit.
        second: String,
    },
    /// A malposition given to a right-sided pump.
    #[error(
        "position '{position}' is modelled for left-sided devices only ({model} is right-sided; \
         allowed: correct)"
    )]
    RightMalposition {
        /// Catalogue id.
        model: String,
        /// The position asked for.
        position: &'static str,
    },
}

/// The assembled model for one set of parameters and one heart period.
#[derive(Debug, Clone)]
pub struct Circulation {
    p: Parameters,
    ventricle: Activation,
    atrium: Activation,
    left: Option<PumpCoupling>,
    right: Option<PumpCoupling>,
    /// Fluid given (positive) or lost (negative) into the systemic veins, mL/s.
    infusion_ml_s: f64,
    /// Reciprocals of the parameters the right-hand side divides by.
    k: Reciprocals,
}

/// The reciprocals of the compliances, resistances and inertances the right-hand side
/// divides by, computed once per parameter set: it multiplies by them (see
/// [`vessel_pressure`]).
#[derive(Debug, Clone, Copy)]
struct Reciprocals {
    /// Elastance 1/C of the proximal, arterial and venous compartments, mmHg/mL: systemic,
    /// then pulmonary.
    e_sys: [f64; 3],
    e_pul: [f64; 3],
    /// Conductance 1/R of the peripheral and venous resistances, mL/(s·mmHg).
    g_svr: f64,
    g_pvr: f64,
    g_ven_sys: f64,
    g_ven_pul: f64,
    /// Open conductance 1/R of the mitral, aortic, tricuspid and pulmonary valves.
    g_mitral: f64,
    g_aortic: f64,
    g_tricuspid: f64,
    g_pulmonary: f64,
    /// 1/L of the aortic and pulmonary inertances, mL/(mmHg·s²).
    inv_l_ao: f64,
    inv_l_pa: f64,
}

impl Reciprocals {
    fn of(p: &Parameters) -> Self {
        let (s, pc) = (&p.systemic, &p.pulmonary_circ);
        Reciprocals {
            e_sys: [1.0 / s.c_prox, 1.0 / s.c_art, 1.0 / s.c_ven],
            e_pul: [1.0 / pc.c_prox, 1.0 / pc.c_art, 1.0 / pc.c_ven],
            g_svr: 1.0 / s.r_periph,
            g_pvr: 1.0 / pc.r_periph,
            g_ven_sys: 1.0 / s.r_ven,
            g_ven_pul: 1.0 / pc.r_ven,
            g_mitral: 1.0 / p.mitral.r,
            g_aortic: 1.0 / p.aortic.r,
            g_tricuspid: 1.0 / p.tricuspid.r,
            g_pulmonary: 1.0 / p.pulmonary.r,
            inv_l_ao: 1.0 / s.inertance,
            inv_l_pa: 1.0 / pc.inertance,
        }
    }
}

impl Circulation {
    /// Builds the model without devices. Parameters must have been validated.
    pub fn new(p: Parameters) -> Self {
        Self::build(p, None)
    }

    /// [`Circulation::new`], sharing `previous`'s activation tables where they are for the
    /// same activation parameters and heart period: tabulating one takes some 4,000
    /// evaluations of the formula (the two about as long as a beat's integration), and a
    /// course rebuilds its model every beat with mostly the same parameters. Same model as
    /// [`Circulation::new`] either way (the table is a function of those two).
    pub fn new_reusing(p: Parameters, previous: &Circulation) -> Self {
        Self::build(p, Some(previous))
    }

    fn build(p: Parameters, previous: Option<&Circulation>) -> Self {
        let period = 60.0 / p.heart.hr;
        let activation = |a: &ActivationParams, old: Option<&Activation>| match old {
            Some(old) if old.is_for(a, period) => old.clone(),
            _ => Activation::new(a, period),
        };
        Circulation {
            k: Reciprocals::of(&p),
            ventricle: activation(&p.heart.ventricle, previous.map(|c| &c.ventricle)),
            atrium: activation(&p.heart.atrium, previous.map(|c| &c.atrium)),
            p,
            left: None,
            right: None,
            infusion_ml_s: 0.0,
        }
    }

    /// Sets a fluid infusion (positive) or blood loss (negative) into the systemic veins.
    pub fn with_infusion(mut self, ml_s: f64) -> Self {
        self.infusion_ml_s = ml_s;
        self
    }

    /// Current infusion rate, mL/s.
    pub fn infusion_ml_s(&self) -> f64 {
        self.infusion_ml_s
    }

    /// Adds a pump: left devices LV -> aorta, right devices RA -> pulmonary artery.
    pub fn with_pump(mut self, pump: Pump) -> Result<Self, CouplingError> {
        let (slot, flow) = match pump.side {
            Side::Left => (&mut self.left, Slot::QPumpL),
            Side::Right => (&mut self.right, Slot::QPumpR),
        };
        if let Some(existing) = slot {
            return Err(CouplingError::SideTaken {
                side: if pump.side == Side::Left {
                    "left-sided"
                } else {
                    "right-sided"
                },
                first: existing.pump.model.clone(),
                second: pump.model,
            });
        }
        let (inlet, outlet) = match (pump.side, pump.position) {
            (Side::Left, Position::Correct) => (Slot::VLv, Slot::VAo),
            (Side::Left, Position::InletInAorta) => (Slot::VAo, Slot::VAo),
            (Side::Left, Position::TooDeep) => (Slot::VLv, Slot::VLv),
            (Side::Right, Position::Correct) => (Slot::VRa, Slot::VPa),
            (Side::Right, other) => {
                return Err(CouplingError::RightMalposition {
                    model: pump.model,
                    position: Position::NAMES[other as usize],
                })
            }
        };
        let suction = match inlet {
            Slot::VLv => Some(InletSuction::for_inlet(self.p.lv.v0)),
            Slot::VRa => Some(InletSuction::for_inlet(self.p.ra.v0)),
            _ => None,
        };
        *slot = Some(PumpCoupling {
            pump,
            inlet,
            outlet,
            flow,
            suction,
        });
        Ok(self)
    }

    /// The coupled pumps, left first.
    #[inline(always)]
    pub fn pumps(&self) -> impl Iterator<Item = &PumpCoupling> {
        self.left.iter().chain(self.right.iter())
    }

    /// The pump on one side, if any.
    pub fn pump(&self, side: Side) -> Option<&PumpCoupling> {
        match side {
            Side::Left => self.left.as_ref(),
            Side::Right => self.right.as_ref(),
        }
    }

    /// The parameters it was built from.
    pub fn parameters(&self) -> &Parameters {
        &self.p
    }

    /// Heart period, s.
    pub fn period(&self) -> f64 {
        60.0 / self.p.heart.hr
    }

    /// Time of end-systole (peak ventricular elastance) after the beat's onset, s.
    pub fn t_end_systole(&self) -> f64 {
        self.ventricle.t_peak()
    }

    /// Clock of a beat starting at `t_start`.
    pub fn clock(&self, t_start: f64) -> BeatClock {
        BeatClock {
            t_start,
            period: self.period(),
            pr: self.p.heart.pr_interval,
        }
    }

    /// Pressures and flows at time `t` within the beat of `clock`.
    #[inline(always)]
    pub fn hemodynamics(&self, clock: &BeatClock, t: f64, y: &State) -> Hemodynamics {
        self.hemodynamics_on(clock, t, y, None)
    }

    /// [`Circulation::hemodynamics`], with the valve laws held on `branches` if given, else
    /// on the branch the pressure difference selects.
    #[inline(always)]
    fn hemodynamics_on(
        &self,
        clock: &BeatClock,
        t: f64,
        y: &State,
        branches: Option<ValveBranches>,
    ) -> Hemodynamics {
        // Valve i's flow: on its held branch if given, else by its law.
        let valve = |i: usize, g: f64, dp: f64, area: f64| match branches {
            Some(b) => valve_flow_on(g, dp, area, b >> i & 1 == 1),
            None => valve_flow(g, dp, area),
        };
        let k = &self.k;
        let p = &self.p;
        let e_v = self.ventricle.eval(clock.ventricular_time(t));
        let e_a = self.atrium.eval(match branches {
            Some(b) => clock.atrial_time_on(t, b >> Self::ATRIAL_ONSET & 1 == 1),
            None => clock.atrial_time(t),
        });
        let v = |s: Slot| y[s.i()];

        let p_peri = pericardial_pressure(&p.pericardium, v(Slot::VLv), v(Slot::VRv));
        let [p_la, p_ra, p_lv, p_rv] = chamber_pressures(
            [&p.la, &p.ra, &p.lv, &p.rv],
            [e_a, e_a, e_v, e_v],
            [v(Slot::VLa), v(Slot::VRa), v(Slot::VLv), v(Slot::VRv)],
        );
        // With a septum the ventricles' laws are the free walls', at the volumes the septum
        // leaves them; without one (c_spt = 0), the walls hold the whole volumes.
        let (p_lv, p_rv, x_spt) = if p.septum.compliance_scale > 0.0 {
            let b = septal_balance(
                &p.septum,
                &p.lv,
                &p.rv,
                e_v,
                v(Slot::VLv),
                v(Slot::VRv),
                p_lv,
                p_rv,
            );
            (b.p_lvf, b.p_rvf, b.x_ml)
        } else {
            (p_lv, p_rv, 0.0)
        };
        let (p_lv, p_rv) = (p_lv + p_peri, p_rv + p_peri);

        let s = &p.systemic;
        let pc = &p.pulmonary_circ;
        let p_ao = vessel_pressure(v(Slot::VAo), s.vu_prox, k.e_sys[0]);
        let p_sa = vessel_pressure(v(Slot::VSa), s.vu_art, k.e_sys[1]);
        let p_sv = vessel_pressure(v(Slot::VSv), s.vu_ven, k.e_sys[2]);
        let p_pa = vessel_pressure(v(Slot::VPa), pc.vu_prox, k.e_pul[0]);
        let p_pad = vessel_pressure(v(Slot::VPad), pc.vu_art, k.e_pul[1]);
        let p_pv = vessel_pressure(v(Slot::VPv), pc.vu_ven, k.e_pul[2]);

        let r_suction = |c: &Option<PumpCoupling>| {
            c.as_ref()
                .and_then(|c| c.suction.map(|s| s.resistance(y[c.inlet.i()])))
                .unwrap_or(0.0)
        };
        Hemodynamics {
            q_pump_l: v(Slot::QPumpL),
            q_pump_r: v(Slot::QPumpR),
            r_suction_l: r_suction(&self.left),
            r_suction_r: r_suction(&self.right),
            e_v,
            e_a,
            p_peri,
            x_spt,
            p_la,
            p_lv,
            p_ra,
            p_rv,
            p_ao,
            p_sa,
            p_sv,
            p_pa,
            p_pad,
            p_pv,
            q_mv: valve(
                0,
                k.g_mitral,
                p_la - p_lv,
                regurgitant_area(&p.mitral, v(Slot::VLv)),
            ),
            q_av: valve(1, k.g_aortic, p_lv - p_ao, p.aortic.regurgitant_area),
            q_tv: valve(
                2,
                k.g_tricuspid,
                p_ra - p_rv,
                regurgitant_area(&p.tricuspid, v(Slot::VRv)),
            ),
            q_pv: valve(3, k.g_pulmonary, p_rv - p_pa, p.pulmonary.regurgitant_area),
            q_svr: (p_sa - p_sv) * k.g_svr,
            q_pvr: (p_pad - p_pv) * k.g_pvr,
            q_ven_sys: (p_sv - p_ra) * k.g_ven_sys,
            q_ven_pul: (p_pv - p_la) * k.g_ven_pul,
        }
    }

    /// [`MetricPressures`] at time `t` within the beat of `clock`: the same values as
    /// [`Circulation::hemodynamics`] gives for them. One sample of
    /// [`Circulation::metric_pressures_block`], which the beat metrics use for the rest.
    #[inline(always)]
    pub fn metric_pressures(&self, clock: &BeatClock, t: f64, y: &State) -> MetricPressures {
        self.metric_pressures_block::<4>(&[(t, *y)], |_, t| self.activations(clock, t))
            .lane(0)
    }

    /// The ventricular and atrial activations [e_v, e_a] at time `t` within the beat of
    /// `clock`.
    #[inline(always)]
    pub fn activations(&self, clock: &BeatClock, t: f64) -> [f64; 2] {
        [
            self.ventricle.eval(clock.ventricular_time(t)),
            self.atrium.eval(clock.atrial_time(t)),
        ]
    }

    /// [`MetricPressures`] of up to `B` samples `(t, y)` at once (`B` a multiple of 4), lane
    /// j from sample j (lanes past the last sample repeat it). Field by field over the
    /// samples, so that each field's arithmetic becomes vector instructions across samples,
    /// where sample by sample the compiler had to shuffle each sample's values into lanes.
    /// Each lane's values depend on its sample only, bit for bit (test
    /// `metric_block_is_metric_pressures_sample_by_sample`). `activations(i, t)` gives the
    /// [`Circulation::activations`] of sample i (at time t): the caller may have them
    /// already.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // several arrays in step, one index
    pub fn metric_pressures_block<const B: usize>(
        &self,
        samples: &[(f64, State)],
        mut activations: impl FnMut(usize, f64) -> [f64; 2],
    ) -> MetricBlock<B> {
        let p = &self.p;
        let k = &self.k;
        let last = samples.len() - 1;
        // Plain loops over lanes: `array::map` and `from_fn` over a block were not inlined.
        let [mut e_v, mut e_a, mut v_la, mut v_ra, mut v_lv, mut v_rv, mut v_ao, mut v_pa] =
            [[0.0; B]; 8];
        for j in 0..B {
            let (t, y) = &samples[j.min(last)];
            [e_v[j], e_a[j]] = activations(j.min(last), *t);
            v_la[j] = y[Slot::VLa.i()];
            v_ra[j] = y[Slot::VRa.i()];
            v_lv[j] = y[Slot::VLv.i()];
            v_rv[j] = y[Slot::VRv.i()];
            v_ao[j] = y[Slot::VAo.i()];
            v_pa[j] = y[Slot::VPa.i()];
        }
        let mut b = MetricBlock {
            p_la: [0.0; B],
            p_lv: [0.0; B],
            p_ra: [0.0; B],
            p_ao: [0.0; B],
            p_pa: [0.0; B],
            q_mv: [0.0; B],
            q_av: [0.0; B],
        };
        let mut p_peri = [0.0; B];
        chamber_pressures_lanes(&p.la, &e_a, &v_la, &mut b.p_la);
        chamber_pressures_lanes(&p.ra, &e_a, &v_ra, &mut b.p_ra);
        chamber_pressures_lanes(&p.lv, &e_v, &v_lv, &mut b.p_lv);
        if p.septum.compliance_scale > 0.0 {
            // The LV free wall at the volume the septum leaves it, lane by lane as in
            // `hemodynamics_on` (which is what keeps the two bit for bit equal).
            let mut p_rvf = [0.0; B];
            chamber_pressures_lanes(&p.rv, &e_v, &v_rv, &mut p_rvf);
            for j in 0..B {
                b.p_lv[j] = septal_balance(
                    &p.septum, &p.lv, &p.rv, e_v[j], v_lv[j], v_rv[j], b.p_lv[j], p_rvf[j],
                )
                .p_lvf;
            }
        }
        pericardial_pressures_lanes(&p.pericardium, &v_lv, &v_rv, &mut p_peri);
        for j in 0..B {
            b.p_lv[j] += p_peri[j];
            b.p_ao[j] = vessel_pressure(v_ao[j], p.systemic.vu_prox, k.e_sys[0]);
            b.p_pa[j] = vessel_pressure(v_pa[j], p.pulmonary_circ.vu_prox, k.e_pul[0]);
        }
        for j in 0..B {
            b.q_mv[j] = valve_flow(
                k.g_mitral,
                b.p_la[j] - b.p_lv[j],
                regurgitant_area(&p.mitral, v_lv[j]),
            );
            b.q_av[j] = valve_flow(k.g_aortic, b.p_lv[j] - b.p_ao[j], p.aortic.regurgitant_area);
        }
        b
    }

    /// dy/dt at time `t` within the beat of `clock`. Allocates nothing.
    #[inline(always)]
    pub fn rhs(&self, clock: &BeatClock, t: f64, y: &State, dy: &mut State) {
        self.rhs_of(&self.hemodynamics(clock, t, y), y, dy);
    }

    /// Number of switching functions (see [`Circulation::switching`]).
    pub const N_SWITCHES: usize = 5;
    /// Index of the atrial-onset switching function.
    pub const ATRIAL_ONSET: usize = 4;

    /// Switching functions of the right-hand side, which is smooth while none changes sign:
    /// the four valve pressure differences (each valve law has a kink at ΔP = 0) and the time
    /// to the next atrial onset (where the atrial clock restarts). Writes them into `g`.
    #[inline(always)]
    pub fn switching(&self, clock: &BeatClock, t: f64, y: &State, g: &mut [f64]) {
        Self::switching_of(&self.hemodynamics(clock, t, y), clock, t, g);
    }

    /// [`Circulation::rhs`] and [`Circulation::switching`] from one evaluation of the
    /// pressures, with the valve laws held on `branches` if given ([`Circulation::rhs_on`]).
    #[inline(always)]
    pub fn rhs_switching(
        &self,
        clock: &BeatClock,
        t: f64,
        y: &State,
        branches: Option<ValveBranches>,
        dy: &mut State,
        g: &mut [f64],
    ) {
        let h = self.hemodynamics_on(clock, t, y, branches);
        self.rhs_of(&h, y, dy);
        Self::switching_of(&h, clock, t, g);
    }

    /// dy/dt with each valve law held on one branch of its kink at ΔP = 0 (`branches`),
    /// whichever side of it the state is on: the smooth continuation of the right-hand side
    /// past a valve opening or closing, for an integrator that keeps every stage of a step
    /// on one branch and switches only at the located crossing (docs/model.md).
    #[inline(always)]
    pub fn rhs_on(
        &self,
        clock: &BeatClock,
        t: f64,
        y: &State,
        branches: ValveBranches,
        dy: &mut State,
    ) {
        self.rhs_of(&self.hemodynamics_on(clock, t, y, Some(branches)), y, dy);
    }

    #[inline(always)]
    fn switching_of(h: &Hemodynamics, clock: &BeatClock, t: f64, g: &mut [f64]) {
        g[0] = h.p_la - h.p_lv;
        g[1] = h.p_lv - h.p_ao;
        g[2] = h.p_ra - h.p_rv;
        g[3] = h.p_rv - h.p_pa;
        g[Self::ATRIAL_ONSET] = clock.ventricular_time(t) - (clock.period - clock.pr);
    }

    /// dy/dt from the pressures and flows `h` at state `y`.
    #[inline(always)]
    fn rhs_of(&self, h: &Hemodynamics, y: &State, dy: &mut State) {
        let q_ao = y[Slot::QAo.i()];
        let q_pa = y[Slot::QPa.i()];
        let s = &self.p.systemic;
        let pc = &self.p.pulmonary_circ;

        dy[Slot::VLa.i()] = h.q_ven_pul - h.q_mv;
        dy[Slot::VLv.i()] = h.q_mv - h.q_av;
        dy[Slot::VRa.i()] = h.q_ven_sys - h.q_tv;
        dy[Slot::VRv.i()] = h.q_tv - h.q_pv;
        dy[Slot::VAo.i()] = h.q_av - q_ao;
        dy[Slot::VSa.i()] = q_ao - h.q_svr;
        dy[Slot::VSv.i()] = h.q_svr - h.q_ven_sys + self.infusion_ml_s;
        dy[Slot::VPa.i()] = h.q_pv - q_pa;
        dy[Slot::VPad.i()] = q_pa - h.q_pvr;
        dy[Slot::VPv.i()] = h.q_pvr - h.q_ven_pul;
        // L·dQ/dt = P_prox − P_distal − R_c·Q
        dy[Slot::QAo.i()] = (h.p_ao - h.p_sa - s.r_char * q_ao) * self.k.inv_l_ao;
        dy[Slot::QPa.i()] = (h.p_pa - h.p_pad - pc.r_char * q_pa) * self.k.inv_l_pa;

        dy[Slot::QPumpL.i()] = 0.0;
        dy[Slot::QPumpR.i()] = 0.0;
        for (c, r_s) in [(&self.left, h.r_suction_l), (&self.right, h.r_suction_r)] {
            if let Some(c) = c {
                let q = y[c.flow.i()];
                let (p_in, p_out) = (h.pressure(c.inlet), h.pressure(c.outlet));
                dy[c.flow.i()] = c.pump.dq_dt(q, p_in, p_out, r_s);
                dy[c.inlet.i()] -= q;
                dy[c.outlet.i()] += q;
            }
        }
    }

    /// Static equilibrium with the heart relaxed: every compartment at one pressure P_m
    /// (the mean filling pressure) chosen so the volumes add up to the total blood volume.
    pub fn initial_state(&self) -> State {
        let p = &self.p;
        let volumes_at = |pm: f64| -> [f64; 10] {
            let vessel = |c: &CirculationParams| {
                [
                    c.vu_prox + c.c_prox * pm,
                    c.vu_art + c.c_art * pm,
                    c.vu_ven + c.c_ven * pm,
                ]
            };
            let [ao, sa, sv] = vessel(&p.systemic);
            let [pa, pad, pv] = vessel(&p.pulmonary_circ);
            [
                edpvr_volume(&p.la, pm),
                edpvr_volume(&p.lv, pm),
                edpvr_volume(&p.ra, pm),
                edpvr_volume(&p.rv, pm),
                ao,
                sa,
                sv,
                pa,
                pad,
                pv,
            ]
        };
        let total = |pm: f64| volumes_at(pm).iter().sum::<f64>();
        // total() increases with pm; bisect on [0, 100] mmHg.
        let (mut lo, mut hi) = (0.0, 100.0);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if total(mid) < p.blood_volume {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let vols = volumes_at(0.5 * (lo + hi));
        let mut y = State::zeros();
        for (slot, v) in Slot::VOLUMES.iter().zip(vols) {
            y[slot.i()] = v;
        }
        // Put any bisection residue in the systemic veins so the total is exact.
        let residue = p.blood_volume - total_volume(&y);
        y[Slot::VSv.i()] += residue;
        y
    }
}

/// Total blood volume in a state, mL.
pub fn total_volume(y: &State) -> f64 {
    Slot::VOLUMES.iter().map(|s| y[s.i()]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physiology::presets;

    #[test]
    fn initial_state_holds_the_blood_volume() {
        let c = Circulation::new(presets::normal());
        let y = c.initial_state();
        assert!((total_volume(&y) - c.parameters().blood_volume).abs() < 1e-9);
        assert!(y.iter().all(|v| v.is_finite()));
    }

    /// The normal adult with Smith et al. 2004's septum switched on.
    fn with_septum(mut p: Parameters) -> Parameters {
        p.septum.compliance_scale = 1.0;
        p
    }

    #[test]
    fn volume_derivatives_sum_to_zero() {
        for p in [presets::normal(), with_septum(presets::normal())] {
            let c = Circulation::new(p);
            let mut y = c.initial_state();
            y[Slot::VLv.i()] += 40.0; // something away from equilibrium
            y[Slot::QAo.i()] = 30.0;
            let clock = c.clock(0.0);
            let mut dy = State::zeros();
            for k in 0..50 {
                c.rhs(&clock, k as f64 * 0.016, &y, &mut dy);
                let s: f64 = Slot::VOLUMES.iter().map(|s| dy[s.i()]).sum();
                assert!(s.abs() < 1e-9, "sum dV/dt = {s}");
            }
        }
    }

    #[test]
    fn the_septum_moves_volume_between_the_free_walls_only() {
        // Septum on: the ventricular pressures are the free walls' at the volumes the
        // septum leaves them, plus the pericardium's (which sees the whole volumes), and
        // the septal balance holds; the off model is the walls at the whole volumes.
        use crate::physiology::elements::{chamber_pressure, septal_pressure};
        let p = with_septum(presets::normal());
        let (on, off) = (Circulation::new(p), Circulation::new(presets::normal()));
        let clock = on.clock(0.0);
        let mut y = on.initial_state();
        y[Slot::VLv.i()] += 30.0;
        for k in 0..40 {
            let t = k as f64 * 0.02;
            let (h, h0) = (
                on.hemodynamics(&clock, t, &y),
                off.hemodynamics(&clock, t, &y),
            );
            assert_eq!(h0.x_spt, 0.0);
            let (v_lv, v_rv) = (y[Slot::VLv.i()], y[Slot::VRv.i()]);
            let x = h.x_spt;
            let l = chamber_pressure(&p.lv, h.e_v, v_lv - x);
            let r = chamber_pressure(&p.rv, h.e_v, v_rv + x);
            assert!((h.p_lv - h.p_peri - l).abs() < 1e-9, "t = {t}");
            assert!((h.p_rv - h.p_peri - r).abs() < 1e-9, "t = {t}");
            assert!(
                (septal_pressure(&p.septum, h.e_v, x) - (l - r)).abs() < 1e-7,
                "t = {t}"
            );
            assert_eq!(h.p_peri, h0.p_peri);
            assert_eq!(h.p_la, h0.p_la);
        }
    }

    #[test]
    fn metric_pressures_are_the_hemodynamics_values() {
        // With mitral regurgitation, so the mitral flow runs both ways; with and without
        // the septum.
        for scale in [0.0, 1.0] {
            let mut p = presets::normal();
            p.mitral.regurgitant_area = 0.2;
            p.septum.compliance_scale = scale;
            let c = Circulation::new(p);
            let clock = c.clock(0.0);
            let mut y = c.initial_state();
            y[Slot::VLv.i()] += 40.0;
            for k in 0..80 {
                let t = k as f64 * 0.01;
                let (h, m) = (
                    c.hemodynamics(&clock, t, &y),
                    c.metric_pressures(&clock, t, &y),
                );
                assert_eq!(
                    [m.p_la, m.p_lv, m.p_ra, m.p_ao, m.p_pa, m.q_mv, m.q_av],
                    [h.p_la, h.p_lv, h.p_ra, h.p_ao, h.p_pa, h.q_mv, h.q_av],
                    "t = {t}"
                );
                assert_eq!(m.outlet_pressure(Slot::VAo), h.p_ao);
                assert_eq!(m.outlet_pressure(Slot::VLv), h.p_lv);
            }
        }
    }

    #[test]
    fn metric_block_is_metric_pressures_sample_by_sample() {
        // Functional and fixed regurgitation, so both valve laws' branches and the
        // functional area's clamp are crossed; volumes and times spread over a beat and
        // past its ends; blocks of every length up to 16; without the septum, with Smith's
        // and with a softer one (the septal balance is solved lane by lane).
        for scale in [0.0, 1.0, 4.0] {
            let mut p = presets::normal();
            p.mitral.regurgitant_area = 0.3;
            p.mitral.coaptation_volume = 110.0;
            p.aortic.regurgitant_area = 0.2;
            p.septum.compliance_scale = scale;
            let c = Circulation::new(p);
            let clock = c.clock(3.2);
            let samples: Vec<(f64, State)> = (0..40)
                .map(|i| {
                    let mut y = c.initial_state();
                    y[Slot::VLv.i()] = 40.0 + 4.0 * i as f64;
                    y[Slot::VRv.i()] += 2.5 * (i % 11) as f64;
                    y[Slot::VLa.i()] += 1.5 * i as f64;
                    y[Slot::VAo.i()] += 3.0 * (i % 7) as f64;
                    (3.2 + 0.85 * (i as f64 - 1.0) / 37.0, y)
                })
                .collect();
            for len in 1..=16 {
                for start in [0, 11, 24] {
                    let block = &samples[start..start + len];
                    let b = c.metric_pressures_block::<16>(block, |_, t| c.activations(&clock, t));
                    for j in 0..16 {
                        let (t, y) = &block[j.min(len - 1)];
                        assert_eq!(b.lane(j), c.metric_pressures(&clock, *t, y), "lane {j}");
                        let h = c.hemodynamics(&clock, *t, y);
                        assert_eq!(b.p_lv[j], h.p_lv, "lane {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_rebuilt_model_shares_activation_tables_only_where_they_match() {
        let p = presets::normal();
        let old = Circulation::new(p);
        // Same activations and heart rate, another resistance: both tables shared.
        let mut q = p;
        q.systemic.r_periph *= 1.3;
        let same = Circulation::new_reusing(q, &old);
        assert!(same.ventricle.shares_table_with(&old.ventricle));
        assert!(same.atrium.shares_table_with(&old.atrium));
        // Another heart rate, another ventricular relaxation: fresh tables, and the model
        // is the one built from scratch, value for value.
        let mut faster = p;
        faster.heart.hr = 110.0;
        let mut slower_relaxation = p;
        slower_relaxation.heart.ventricle.tau2 *= 1.2;
        for (q, atrium_shared) in [(q, true), (faster, false), (slower_relaxation, true)] {
            let (fresh, reused) = (Circulation::new(q), Circulation::new_reusing(q, &old));
            assert_eq!(reused.atrium.shares_table_with(&old.atrium), atrium_shared);
            let clock = fresh.clock(0.0);
            let y = fresh.initial_state();
            for k in 0..60 {
                let t = k as f64 * clock.period / 60.0;
                let (mut a, mut b) = (State::zeros(), State::zeros());
                fresh.rhs(&clock, t, &y, &mut a);
                reused.rhs(&clock, t, &y, &mut b);
                assert_eq!(a, b, "t = {t}");
            }
        }
        assert!(!Circulation::new_reusing(faster, &old)
            .ventricle
            .shares_table_with(&old.ventricle));
        assert!(!Circulation::new_reusing(slower_relaxation, &old)
            .ventricle
            .shares_table_with(&old.ventricle));
    }

    #[test]
    fn slot_order_matches_indices() {
        for (i, s) in Slot::ALL.iter().enumerate() {
            assert_eq!(s.i(), i);
        }
    }
}
