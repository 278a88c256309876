"""Demo data made through the service layer, so every audit chain in it is real.

History is simulated: each case is walked through its stages over past weeks with a
simulated clock, so deadlines, overdue work and durations look like a working office.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from ..database import simulated_time, utcnow
from ..errors import CaseflowError
from ..extensions import db
from ..models import Case, User
from ..services import cases as case_services
from ..services import referrals as referral_services
from ..services.audit import create_checkpoint
from ..services.clients import register_client
from ..services.context import Actor
from ..services.reference import seed_reference_data
from ..services.targets import set_national_target
from ..services.users import create_user

DEMO_PASSWORD = "Demo-Caseflow-2026"

# username, full name, role, province, supervisor, extra
DEMO_USERS = [
    ("admin", "Admin Sistem", "admin", "31", None, {}),
    ("manajer", "Ratna Wulandari", "programme_manager", "31", None, {}),
    ("auditor", "Bambang Sutrisno", "auditor", "31", None, {"auditor_scope_province_code": None}),
    ("supervisor", "Maria Tebay", "supervisor", "91", None, {}),
    ("pendamping", "Yohanes Wenda", "facilitator", "91", "supervisor",
     {"nip_pppk": "199001012023211001", "employment_status": "pppk"}),
    ("pendamping2", "Naomi Kogoya", "facilitator", "91", "supervisor",
     {"nip_pppk": "199205152023212002", "employment_status": "pppk"}),
    ("supervisor.ntt", "Agustinus Bria", "supervisor", "53", None, {}),
    ("pendamping.ntt", "Yuliana Ndun", "facilitator", "53", "supervisor.ntt",
     {"nip_pppk": "199108082023212003", "employment_status": "pppk"}),
]

FIRST_NAMES_F = ["Siti", "Maria", "Yosefina", "Agnes", "Dewi", "Lusia", "Martha", "Rosalina", "Fransiska"]
FIRST_NAMES_M = ["Yakobus", "Petrus", "Andreas", "Budi", "Markus", "Simon", "Daniel", "Elias", "Fransiskus"]
LAST_NAMES = ["Wenda", "Kogoya", "Tabuni", "Ndun", "Bria", "Lado", "Mau", "Tefa", "Wanggai", "Sanu"]
CATEGORIES = ["P02", "P04", "P06", "P09", "P10", "P13", "P16", "P18", "P21", "P23"]


@dataclass(frozen=True)
class Profile:
    """What a case of one PPKS category looks like: who the client can be (an age range, a
    sex) and what the facilitator writes, so no 54-year-old is filed as a neglected child."""

    ages: tuple[int, int]
    sexes: str
    problem: str
    needs: str
    strengths: str
    goal: str
    goal_by: str
    document: str  # the identity document the second goal (and the Dukcapil referral) is about


CHILD_DOCUMENT = "akta kelahiran dan KK"
STEP_NOTES = ("Kunjungan ke-{number}: membahas kemajuan bersama keluarga.",
              "Pendampingan ke-{number}: menemani klien ke layanan yang dirujuk.",
              "Konseling ke-{number}: klien menceritakan perubahan sejak kunjungan lalu.",
              "Kunjungan ke-{number}: memeriksa bantuan yang sudah diterima.")
PROFILES = {
    "P02": Profile((6, 15), "FM", "Anak ditinggal orang tua yang merantau; tinggal dengan nenek dan tidak bersekolah.",
                   "Pengasuhan, akses pendidikan, dokumen kependudukan.", "Nenek peduli, anak ingin sekolah.",
                   "Anak kembali bersekolah", "Pendamping dan wali", CHILD_DOCUMENT),
    "P04": Profile((10, 16), "FM", "Anak berjualan di pasar sampai malam dan sering tidur di jalan.",
                   "Tempat tinggal aman, pendidikan, pendampingan keluarga.", "Kakak mendukung, anak pandai berhitung.",
                   "Anak pulang ke rumah dan ikut kejar paket", "Pendamping dan orang tua", CHILD_DOCUMENT),
    "P06": Profile((7, 16), "FM", "Anak mengalami kekerasan fisik di rumah; luka sudah diobati di puskesmas.",
                   "Perlindungan, pemulihan psikososial, pendampingan hukum.", "Guru dan tetangga peduli.",
                   "Anak aman dan mengikuti konseling rutin", "Pendamping dan UPTD PPA", CHILD_DOCUMENT),
    "P09": Profile((19, 58), "FM", "Penyandang disabilitas fisik belum mendapat alat bantu dan jarang keluar rumah.",
                   "Kursi roda, akses layanan kesehatan, kegiatan produktif.", "Keluarga mendukung, terampil menganyam.",
                   "Klien memakai kursi roda dan ikut kelompok usaha", "Pendamping dan Dinas Sosial", "KTP dan KK"),
    "P10": Profile((20, 38), "F", "Klien ingin berhenti bekerja di tempat hiburan malam dan mencari nafkah lain.",
                   "Pelatihan keterampilan, modal usaha, pemeriksaan kesehatan.", "Motivasi kuat, punya anak.",
                   "Klien mengikuti pelatihan menjahit", "Pendamping dan BLK", "KTP dan KK"),
    "P13": Profile((24, 60), "FM", "Klien memulung di tempat pembuangan akhir tanpa alat pelindung.",
                   "Alat pelindung, jaminan kesehatan, pendidikan anak.", "Pekerja keras, kelompok pemulung solid.",
                   "Klien terdaftar sebagai peserta BPJS", "Pendamping dan BPJS", "KTP dan KK"),
    "P16": Profile((21, 48), "FM", "Klien dengan HIV putus minum ARV setelah pindah kampung.",
                   "Akses ARV rutin, dukungan sebaya, jaminan kesehatan.", "Pasangan mendukung, ikut kelompok sebaya.",
                   "Klien kembali minum ARV setiap hari", "Pendamping dan puskesmas", "KTP dan KK"),
    "P18": Profile((17, 34), "F", "Klien dipulangkan setelah dijanjikan kerja di luar daerah dan tidak digaji.",
                   "Pemulihan psikososial, pendampingan hukum, pekerjaan yang aman.", "Keluarga menerima kembali.",
                   "Klien mendapat pekerjaan yang aman", "Pendamping dan Disnaker", "KTP dan KK"),
    "P21": Profile((22, 70), "FM", "Rumah klien rusak berat akibat banjir bandang.",
                   "Hunian sementara, bantuan logistik, pemulihan mata pencaharian.", "Gotong royong kampung.",
                   "Klien tinggal di hunian yang layak", "Pendamping dan BPBD", "KTP dan KK"),
    "P23": Profile((26, 55), "F", "Ibu kepala keluarga tanpa penghasilan tetap dengan tiga anak.",
                   "Bantuan usaha, jaminan sosial, pendidikan anak.", "Terampil membuat kue, ulet.",
                   "Klien memiliki usaha kue yang berjalan", "Pendamping dan Dinas Sosial", "KTP dan KK"),
}
TARGET_STATES = [
    "recorded", "assessment", "planning", "intervention", "evaluation",
    "termination_review", "resolved", "closed_unresolved",
]


def seed_demo_data(password: str | None = None, case_count: int = 36,
                   progress: Callable[[str], None] = lambda _m: None) -> list[tuple[str, str, str]]:
    password = password or DEMO_PASSWORD
    seed_reference_data()
    if db.session.execute(select(User.id).where(User.username == "admin")).first():
        raise CaseflowError("demo data is already there (user 'admin' exists); use a fresh database")
    rng = random.Random(2026)
    users: dict[str, User] = {}
    start = utcnow() - timedelta(days=200)
    with simulated_time(start):
        for username, full_name, role, province, supervisor, extra in DEMO_USERS:
            users[username] = create_user(Actor.cli(), {
                "username": username, "full_name": full_name, "role": role, "password": password,
                "province_code": province,
                "supervisor_id": users[supervisor].id if supervisor else None, **extra,
            })
    progress(f"{len(users)} demo users")
    facilitators = [users["pendamping"], users["pendamping2"], users["pendamping.ntt"]]
    supervisors = {users["pendamping"].id: users["supervisor"], users["pendamping2"].id: users["supervisor"],
                   users["pendamping.ntt"].id: users["supervisor.ntt"]}
    for index in range(case_count):
        facilitator = facilitators[index % len(facilitators)]
        target = TARGET_STATES[index % len(TARGET_STATES)]
        opened = start + timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 10))
        _demo_case(rng, index, facilitator, supervisors[facilitator.id], target, opened)
        if (index + 1) % 10 == 0:
            progress(f"{index + 1}/{case_count} cases")
    _loose_ends(rng, users)
    _national_targets(users)
    create_checkpoint(Actor.cli(), force=True)
    return [(u[0], password, u[2]) for u in DEMO_USERS]


# The programme's monthly work targets per facilitator (target kinerja), as the programme
# manager would set them.
DEMO_TARGETS = {"cases_resolved": 2, "assessed_within": 3, "visits_made": 8, "referrals_answered": 2,
                "aftercare_contacts_made": 2}


def _national_targets(users: dict[str, User]) -> None:
    manager = Actor(user=users["manajer"], via="cli")
    for measure, target in DEMO_TARGETS.items():
        set_national_target(manager, {"period_kind": "month", "measure": measure, "target": target})


def _loose_ends(rng: random.Random, users: dict[str, User]) -> None:
    """What the loop between the people must catch: a client registered while the signal
    dropped before the case was opened, and a returning client with a new case linked to
    the earlier one."""
    me = Actor(user=users["pendamping"], via="cli")
    with simulated_time(utcnow() - timedelta(days=3)):
        register_client(me, {
            "full_name": "Petrus Tabuni", "nik": _nik(rng, "91", date(1979, 4, 12), "M"),
            "birth_date": "1979-04-12", "sex": "M", "address": "Kampung Hitigima, RT 02",
            "province_code": "91", "consent_given_by": "klien sendiri", "consent_confirmed": True,
        })
    colleague = users["pendamping2"]
    closed = db.session.execute(select(Case).where(
        Case.facilitator_id == colleague.id, Case.state == "closed_unresolved").order_by(Case.id)).scalars().first()
    if closed is not None:
        with simulated_time(utcnow() - timedelta(days=2)):
            case_services.open_case(Actor(user=colleague, via="cli"), {
                "client_id": closed.client_id, "ppks_category_code": closed.ppks_category_code,
                "summary": "Klien kembali: masalah muncul lagi setelah kasus sebelumnya ditutup.",
            })


# How the referral of each demo case was answered (by case index); a case left in
# intervention keeps its referral waiting, past its expected day (overdue).
REFERRAL_ANSWERS = ("service_given", "accepted", "refused", "no_answer")


def _nik(rng: random.Random, province: str, birth: date, sex: str) -> str:
    return _nik_from(province, birth, sex, (rng.randint(1, 20), rng.randint(1, 30), rng.randint(1, 9999)))


def _nik_from(province: str, birth: date, sex: str, draws: tuple[int, int, int]) -> str:
    regency, district, serial = draws
    day = birth.day + (40 if sex == "F" else 0)
    return f"{province}{regency:02d}{district:02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def _demo_case(rng, index, facilitator: User, supervisor: User, target: str, opened) -> Case:
    me = Actor(user=facilitator, via="cli")
    boss = Actor(user=supervisor, via="cli")
    # The shared `rng` is drawn exactly as many times, in the same order, as before clients
    # had profiles: every later draw (the simulated days between stages) stays the same, so
    # the demo's timeline (what is due, overdue or in aftercare today) does not move. What a
    # profile adds comes from a second generator of its own.
    drawn_sex = rng.choice("FM")
    drawn_first = rng.choice(FIRST_NAMES_F if drawn_sex == "F" else FIRST_NAMES_M)
    drawn_year, month, day = rng.randint(1950, 2015), rng.randint(1, 12), rng.randint(1, 28)
    last = rng.choice(LAST_NAMES)
    nik_draws = (rng.randint(1, 20), rng.randint(1, 30), rng.randint(1, 9999))
    address = f"Kampung {rng.choice(LAST_NAMES)}, RT 0{rng.randint(1, 9)}"
    drawn_guardian = rng.choice(LAST_NAMES) if drawn_year > date.today().year - 18 else None
    category = rng.choice(CATEGORIES)
    profile = PROFILES[category]
    extra = random.Random(f"demo-client-{index}")
    sex = drawn_sex if drawn_sex in profile.sexes else extra.choice(profile.sexes)
    first = drawn_first if sex == drawn_sex else extra.choice(FIRST_NAMES_F if sex == "F" else FIRST_NAMES_M)
    age = extra.randint(*profile.ages)
    birth = date(opened.year - age, month, day)
    minor = age < 18
    province = facilitator.province_code
    clock = [opened]
    texts = extra

    def later(days_low: int, days_high: int):
        clock[0] = clock[0] + timedelta(days=rng.randint(days_low, days_high), hours=rng.randint(0, 6))
        return simulated_time(clock[0])

    with simulated_time(clock[0]):
        client = register_client(me, {
            "full_name": f"{first} {last}",
            "nik": _nik_from(province, birth, sex, nik_draws),
            "birth_date": birth.isoformat(), "sex": sex,
            "address": address,
            "province_code": province,
            "guardian_name": "Ibu " + (drawn_guardian or extra.choice(LAST_NAMES)) if minor else None,
            "guardian_relationship": "ibu" if minor else None,
            "consent_given_by": "wali (ibu)" if minor else "klien sendiri", "consent_confirmed": True,
        })
        case = case_services.open_case(me, {
            "client_id": client.id, "ppks_category_code": category,
            "summary": texts.choice(["Rujukan dari aparat kampung.", "Laporan tetangga kepada kepala kampung.",
                                     "Datang sendiri ke kantor Dinas Sosial.", "Rujukan dari puskesmas."]),
        })
    order = TARGET_STATES.index(target)

    def fire(actor, trigger, **data):
        case_services.fire_trigger(actor, case.id, trigger, data)

    def step(notes, goal_id=None):
        case_services.log_step(me, case.id, {
            "step_type": rng.choice(["home_visit", "counselling", "phone_call", "assistance_delivered"]),
            "occurred_at": (clock[0] - timedelta(hours=2)).isoformat(), "notes": notes,
            "location": "Rumah klien", "goal_id": goal_id,
        })

    try:
        if order >= 1:
            with later(1, 5):
                fire(me, "start_assessment")
                step("Kunjungan rumah pertama, perkenalan dan persetujuan.")
        if order >= 2:
            with later(3, 12):
                case_services.save_assessment(me, case.id, {
                    "problem": profile.problem, "needs": profile.needs, "strengths": profile.strengths,
                    "resources": "Puskesmas, sekolah terdekat, gereja.",
                    "risk_level": rng.choice(["low", "medium", "high"]),
                })
                fire(me, "complete_assessment")
        if order >= 3:
            with later(3, 12):
                target_day = (clock[0] + timedelta(days=60)).date().isoformat()
                case_services.save_plan(me, case.id, {"summary": "Rencana tiga bulan.", "goals": [
                    {"description": profile.goal, "target_date": target_day, "responsible_party": profile.goal_by},
                    {"description": f"Klien memiliki {profile.document}", "target_date": target_day,
                     "responsible_party": "Dinas Dukcapil"},
                ]})
                fire(me, "start_intervention")
        goals = [g.id for g in case.plan.goals] if case.plan else []
        if order >= 3:
            with later(1, 3):
                referral = referral_services.send_referral(me, case.id, {
                    "destination_type": "dukcapil", "institution": f"Dukcapil Kabupaten {rng.choice(LAST_NAMES)}",
                    "reason": f"Klien belum memiliki {profile.document}.", "goal_id": goals[1],
                })
            if target != "intervention":
                with later(2, 12):
                    status = REFERRAL_ANSWERS[index % len(REFERRAL_ANSWERS)]
                    referral_services.record_answer(me, referral.id, {
                        "status": status, "feedback": "" if status == "no_answer" else "Jawaban dari Dukcapil.",
                    })
        if order >= 4:
            for number in range(rng.randint(1, 4)):
                with later(5, 20):
                    step(texts.choice(STEP_NOTES).format(number=number + 1), goals[number % len(goals)])
            with later(1, 5):
                fire(me, "start_evaluation")
        if order >= 5:
            with later(2, 8):
                achieved = order == 5 or target == "resolved"
                case_services.save_evaluation(me, case.id, {"summary": "Evaluasi akhir.", "ratings": [
                    {"goal_id": g, "rating": "achieved" if achieved else "partly_achieved"} for g in goals
                ]})
                outcome = "closed_unresolved" if target == "closed_unresolved" else "resolved"
                case_services.save_termination_request(me, case.id, {
                    "outcome": outcome,
                    "closure_reason": rng.choice(["moved", "referred", "withdrew"]) if outcome != "resolved" else None,
                    "aftercare_plan": "Bimbingan lanjut bulanan selama tiga bulan." if outcome == "resolved" else "",
                    "reason_details": "Keluarga pindah ke kabupaten lain." if outcome != "resolved" else "",
                })
                fire(me, "request_termination")
        if order == 4 and index % 16 == 4:
            # A termination the supervisor sent back: the evaluation must be looked at again.
            with later(2, 6):
                case_services.save_evaluation(me, case.id, {"summary": "Evaluasi pertama.", "ratings": [
                    {"goal_id": g, "rating": "achieved"} for g in goals]})
                case_services.save_termination_request(me, case.id, {
                    "outcome": "resolved", "aftercare_plan": "Kunjungan bulanan."})
                fire(me, "request_termination")
            with later(1, 3):
                db.session.refresh(case)
                case_services.decide_sign_off(boss, case.pending_sign_off.id, {
                    "decision": "reject", "reason": "Bukti capaian tujuan pertama belum dilampirkan."})
        if order >= 6:
            with later(1, 6):
                db.session.refresh(case)
                case_services.decide_sign_off(boss, case.pending_sign_off.id, {"decision": "approve"})
            if target == "resolved":
                # Aftercare: the first planned contact, a month after the resolution.
                db.session.refresh(case)
                follow_up = case.stage_entered_at + timedelta(days=31)
                if follow_up < utcnow():
                    clock[0] = follow_up
                    with simulated_time(follow_up):
                        step("Kunjungan bimbingan lanjut: keadaan klien stabil, keluarga mendukung.")
        if 1 <= order <= 4 and index % 12 == 1 and facilitator.supervisor_id == supervisor.id:
            colleague = db.session.execute(select(User).where(
                User.supervisor_id == supervisor.id, User.id != facilitator.id, User.role == "facilitator")).scalars().first()
            if colleague is not None:
                with later(1, 3):
                    case_services.reassign_case(boss, case.id, {
                        "facilitator_id": colleague.id, "reason": "Pemerataan beban kerja."})
    except CaseflowError as exc:  # a demo that cannot be built says exactly why
        raise CaseflowError(f"demo case {index} ({target}): {exc}") from exc
    return case
