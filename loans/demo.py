"""A believable demo portfolio, written in bulk (the `seed_demo` management command).

It creates the demo products (get-or-create by code) and the demo users, then borrowers with
their contact points, loans with their schedules, collateral, and repayment histories up to the
business date. Everything is computed in Python with the application's own maths, so the rows
look as if the services had booked them:

- schedules are `loans.schedule.build_schedule`'s, with the fee `loan_create` charges (computed
  once per distinct set of terms, then dated per loan: see `_Schedules`);
- each payment is split as `loans.rules.allocate` splits it, in the product's order, on the day
  `payment_post` and the daily credit application would apply it;
- each loan's balances are what `loans.services.loan_refresh_balances` derives from its
  instalments (`_loan_balances` mirrors it line by line; the tests check every loan).

Rows are queued with explicit primary keys and written chunk by chunk with COPY inside one
transaction: an ORM save per row would take the better part of an hour for 100,000 loans, this
takes about a minute. The keys start after the highest existing key and every generated
identifier (resident ID, credit code, external id, payment reference) is unique also against rows
already there, so the command can be run again on a filled database. It is meant for a quiet
development or demo database, not for one that other processes are writing to at the same time."""

import bisect
import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from itertools import accumulate
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from stdnum.cn import ric, uscc

from borrowers.choices import BorrowerKind, Channel, Language, Relation, RiskGrade
from borrowers.models import Borrower, ContactPoint
from core import roles
from core.audit import log_action
from core.dates import business_today
from core.money import ZERO, to_fen

from . import delinquency, rules
from .choices import (
    AllocationOrder,
    CollateralKind,
    CollateralStatus,
    Component,
    FirstPeriodBasis,
    InstallmentStatus,
    LoanStatus,
    PaymentChannel,
    PaymentKind,
    ProductKind,
    RepaymentMethod,
)
from .cost import annual_cost
from .models import Collateral, Installment, Loan, LoanProduct, Payment, PaymentAllocation
from .schedule import build_schedule, contract_day, due_dates

DEFAULT_SEED = 20261123
DEMO_PASSWORD = "huishou-demo"
CHUNK_LOANS = 10_000  # loans generated and written per round; progress is reported after each
DELINQUENCY_CHUNK = 20_000  # loans per delinquency update when accruing penalties after seeding
HISTORY_DAYS = 548  # loans were disbursed over the past 18 months

# --- Reference data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """Where a borrower is registered: the administrative division code (GB/T 2260, the first six
    digits of a resident ID and digits 3-8 of a credit code) and the names that go with it."""

    code: str
    address: str  # province, city and district: the start of a postal address
    city: str  # as it appears in company names
    plate: str  # licence-plate prefix: province abbreviation and city letter
    registry: str  # the property registry named on a real-estate certificate


# fmt: off
REGIONS = [
    Region("110101", "北京市东城区", "北京", "京A", "东城区"),
    Region("110105", "北京市朝阳区", "北京", "京N", "朝阳区"),
    Region("110108", "北京市海淀区", "北京", "京Q", "海淀区"),
    Region("120104", "天津市南开区", "天津", "津A", "南开区"),
    Region("310101", "上海市黄浦区", "上海", "沪A", "黄浦区"),
    Region("310104", "上海市徐汇区", "上海", "沪B", "徐汇区"),
    Region("310112", "上海市闵行区", "上海", "沪D", "闵行区"),
    Region("440106", "广东省广州市天河区", "广州", "粤A", "广州市"),
    Region("440305", "广东省深圳市南山区", "深圳", "粤B", "深圳市"),
    Region("440104", "广东省广州市越秀区", "广州", "粤A", "广州市"),
    Region("441900", "广东省东莞市", "东莞", "粤S", "东莞市"),
    Region("330106", "浙江省杭州市西湖区", "杭州", "浙A", "杭州市"),
    Region("330782", "浙江省义乌市", "义乌", "浙G", "义乌市"),
    Region("320102", "江苏省南京市玄武区", "南京", "苏A", "南京市"),
    Region("320583", "江苏省昆山市", "昆山", "苏E", "昆山市"),
    Region("510107", "四川省成都市武侯区", "成都", "川A", "成都市"),
    Region("420106", "湖北省武汉市武昌区", "武汉", "鄂A", "武汉市"),
    Region("610113", "陕西省西安市雁塔区", "西安", "陕A", "西安市"),
    Region("370102", "山东省济南市历下区", "济南", "鲁A", "济南市"),
    Region("370202", "山东省青岛市市南区", "青岛", "鲁B", "青岛市"),
    Region("350203", "福建省厦门市思明区", "厦门", "闽D", "厦门市"),
    Region("430104", "湖南省长沙市岳麓区", "长沙", "湘A", "长沙市"),
    Region("410105", "河南省郑州市金水区", "郑州", "豫A", "郑州市"),
    Region("500103", "重庆市渝中区", "重庆", "渝A", "渝中区"),
    Region("210102", "辽宁省沈阳市和平区", "沈阳", "辽A", "沈阳市"),
    Region("340104", "安徽省合肥市蜀山区", "合肥", "皖A", "合肥市"),
    Region("360102", "江西省南昌市东湖区", "南昌", "赣A", "南昌市"),
    Region("530102", "云南省昆明市五华区", "昆明", "云A", "昆明市"),
    Region("130102", "河北省石家庄市长安区", "石家庄", "冀A", "石家庄市"),
]

# (surname, pinyin): the e-mail addresses are built from the pinyin.
SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("苏", "su"), ("魏", "wei"), ("吕", "lv"), ("丁", "ding"),
    ("任", "ren"), ("沈", "shen"), ("姚", "yao"), ("卢", "lu"), ("姜", "jiang"), ("崔", "cui"),
    ("钟", "zhong"), ("谭", "tan"), ("陆", "lu"), ("汪", "wang"), ("范", "fan"), ("金", "jin"),
    ("石", "shi"), ("廖", "liao"), ("贾", "jia"), ("夏", "xia"), ("韦", "wei"), ("方", "fang"),
    ("白", "bai"), ("邹", "zou"), ("孟", "meng"), ("熊", "xiong"), ("秦", "qin"), ("邱", "qiu"),
    ("江", "jiang"), ("尹", "yin"), ("薛", "xue"), ("段", "duan"), ("雷", "lei"), ("侯", "hou"),
    ("龙", "long"), ("史", "shi"), ("陶", "tao"), ("黎", "li"), ("贺", "he"), ("顾", "gu"),
    ("毛", "mao"), ("郝", "hao"), ("龚", "gong"), ("邵", "shao"), ("万", "wan"), ("钱", "qian"),
    ("欧阳", "ouyang"), ("上官", "shangguan"), ("司马", "sima"),
]
GIVEN_NAME_CHARS = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("秀", "xiu"), ("英", "ying"), ("敏", "min"),
    ("静", "jing"), ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"),
    ("超", "chao"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂", "gui"), ("华", "hua"),
    ("建", "jian"), ("国", "guo"), ("文", "wen"), ("红", "hong"), ("玲", "ling"), ("辉", "hui"),
    ("鹏", "peng"), ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("晨", "chen"),
    ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("欣", "xin"), ("怡", "yi"), ("佳", "jia"),
    ("思", "si"), ("雨", "yu"), ("梓", "zi"), ("子", "zi"), ("博", "bo"), ("瑞", "rui"),
    ("鑫", "xin"), ("倩", "qian"), ("颖", "ying"), ("慧", "hui"), ("晓", "xiao"), ("东", "dong"),
    ("海", "hai"), ("波", "bo"), ("峰", "feng"), ("亮", "liang"), ("志", "zhi"), ("丹", "dan"),
    ("萍", "ping"), ("燕", "yan"), ("春", "chun"), ("宁", "ning"), ("嘉", "jia"), ("俊", "jun"),
    ("毅", "yi"), ("帆", "fan"), ("然", "ran"), ("悦", "yue"), ("涵", "han"), ("轩", "xuan"),
    ("昊", "hao"), ("泽", "ze"), ("可", "ke"), ("永", "yong"), ("庆", "qing"), ("立", "li"),
]
COMPANY_BRANDS = [
    "恒达", "华信", "瑞丰", "宏图", "鑫源", "金穗", "天成", "博远", "中联", "永盛", "汇通", "嘉禾",
    "盛世", "新锐", "正元", "启航", "德润", "万邦", "泰和", "锦程", "远洋", "海纳", "信达", "宏远",
    "安泰", "百川", "长青", "同创", "振华", "明道",
]
# (what the company does, as in its name; its industry)
COMPANY_LINES = [
    ("机械制造", "制造业"), ("电子科技", "制造业"), ("食品", "制造业"), ("纺织", "制造业"),
    ("医疗器械", "制造业"), ("新能源科技", "制造业"), ("商贸", "批发和零售业"),
    ("供应链管理", "批发和零售业"), ("建筑工程", "建筑业"), ("装饰工程", "建筑业"),
    ("物流", "交通运输、仓储和邮政业"), ("信息技术", "信息传输、软件和信息技术服务业"),
    ("餐饮管理", "住宿和餐饮业"), ("农业发展", "农、林、牧、渔业"),
]
ROADS = [
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "文化路", "胜利路", "青年路",
    "学院路", "光明路", "幸福路", "东风路", "朝阳路", "复兴路", "工业路", "滨江路", "花园路", "迎宾路",
]
COMMUNITIES = [
    "阳光花园", "锦绣家园", "幸福里", "翠湖苑", "金色家园", "碧水湾", "枫林苑", "春晓小区", "绿城公寓", "和谐家园",
]
# Mobile prefixes of the three carriers; phonenumbers knows all of them as CN mobile ranges.
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "157", "158", "159", "176", "177", "180", "181", "182", "186", "187", "188", "189", "199",
]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]  # reserved: no demo mail reaches anyone
# (world manufacturer identifier, make, models); BYD cars carry green new-energy plates.
CAR_MAKES = [
    ("LFV", "一汽-大众", ["速腾", "迈腾", "宝来"]),
    ("LSV", "上汽大众", ["朗逸", "帕萨特", "途观L"]),
    ("LSG", "上汽通用别克", ["英朗", "君威", "GL8"]),
    ("LGB", "东风日产", ["轩逸", "天籁", "奇骏"]),
    ("LHG", "广汽本田", ["雅阁", "飞度", "凌派"]),
    ("LVG", "广汽丰田", ["凯美瑞", "汉兰达"]),
    ("LBV", "华晨宝马", ["3系", "5系", "X3"]),
    ("LE4", "北京奔驰", ["C级", "E级", "GLC"]),
    ("LGX", "比亚迪", ["秦PLUS", "宋PLUS", "汉"]),
    ("LB3", "吉利汽车", ["星瑞", "博越"]),
    ("LS5", "长安汽车", ["CS75 PLUS", "逸动"]),
]
CAR_COLOURS = ["白色", "黑色", "银色", "灰色", "蓝色", "红色"]
NEW_ENERGY_MAKES = {"比亚迪"}
# fmt: on


# Priced so that, with the 0.15% monthly service fee, no loan costs more than 24% a year (comprehensive
# annual cost): 20.4% plus the fee is about 23.9% on a 12-month loan.
MICRO_RATES = ("0.1500", "0.1680", "0.1800", "0.1980", "0.2040")
CONSUMER_RATES = ("0.0720", "0.0860", "0.0960", "0.1080", "0.1200", "0.1380", "0.1540", "0.1800")
CAR_RATES = ("0.0960", "0.1200", "0.1440", "0.1680", "0.1920")
ENTERPRISE_RATES = ("0.0385", "0.0450", "0.0550", "0.0650", "0.0800", "0.0980")


@dataclass(frozen=True)
class ProductSpec:
    """A demo product and how its loans are drawn. Lenders price in tiers and lend round sums:
    the principal is a whole number of `step`s between the product's limits (log-uniform, so
    small loans are the common ones), the rate one of `rates` (capped by the product's maximum),
    the term one of `terms` within the product's limits."""

    code: str
    name: str
    kind: str
    method: str
    principal: tuple[int, int, int]  # lowest, highest, step
    terms: tuple[int, ...]
    rates: tuple[str, ...]
    monthly_fee_rate: str
    grace_days: int
    weight: int  # share of the portfolio
    default_probability: float  # chance a loan of this product stops paying at some point


# fmt: off
PRODUCT_SPECS = [
    ProductSpec("demo-micro-bullet", "小额信用贷（到期还本付息）", ProductKind.MICRO_LOAN, RepaymentMethod.BULLET,
                (500, 20_000, 500), (3, 6, 9, 12), MICRO_RATES, "0.0015", 0, 18, 0.16),
    ProductSpec("demo-micro-installment", "小额信用贷（等额本息）", ProductKind.MICRO_LOAN,
                RepaymentMethod.EQUAL_INSTALLMENT, (500, 20_000, 500), (3, 6, 9, 12), MICRO_RATES, "0.0015", 0, 27,
                0.16),
    ProductSpec("demo-consumer-annuity", "消费分期贷（等额本息）", ProductKind.CONSUMER_CREDIT,
                RepaymentMethod.EQUAL_INSTALLMENT, (5_000, 200_000, 5_000), (6, 9, 12, 18, 24), CONSUMER_RATES,
                "0.0010", 3, 22, 0.11),
    ProductSpec("demo-consumer-equal-principal", "消费分期贷（等额本金）", ProductKind.CONSUMER_CREDIT,
                RepaymentMethod.EQUAL_PRINCIPAL, (5_000, 200_000, 5_000), (6, 12, 18, 24), CONSUMER_RATES, "0.0010",
                3, 11, 0.11),
    ProductSpec("demo-car-title", "车辆抵押贷（等额本息）", ProductKind.CAR_TITLE, RepaymentMethod.EQUAL_INSTALLMENT,
                (30_000, 300_000, 5_000), (12, 18, 24, 36), CAR_RATES, "0.0012", 3, 14, 0.08),
    ProductSpec("demo-enterprise-interest-only", "企业经营贷（先息后本）", ProductKind.ENTERPRISE,
                RepaymentMethod.INTEREST_ONLY, (200_000, 5_000_000, 50_000), (12, 24, 36), ENTERPRISE_RATES, "0", 5,
                5, 0.06),
    ProductSpec("demo-enterprise-equal-principal", "企业经营贷（等额本金）", ProductKind.ENTERPRISE,
                RepaymentMethod.EQUAL_PRINCIPAL, (200_000, 5_000_000, 50_000), (12, 24, 36), ENTERPRISE_RATES, "0", 5,
                3, 0.06),
]
# fmt: on


@dataclass(frozen=True)
class DemoUser:
    username: str
    group: str | None
    last_name: str
    first_name: str
    is_staff: bool = False
    is_superuser: bool = False


DEMO_USERS = [
    DemoUser("officer", roles.OFFICER, "李", "明"),
    DemoUser("officer2", roles.OFFICER, "王", "芳"),
    DemoUser("manager", roles.MANAGER, "张", "伟", is_staff=True),
    DemoUser("legal", roles.LEGAL_OFFICER, "陈", "静"),
    DemoUser("auditor", roles.AUDITOR, "刘", "洋"),
    DemoUser("admin", None, "", "", is_staff=True, is_superuser=True),
]

# --- Behaviour -------------------------------------------------------------------------------------


class _Weighted:
    """Draws one of the values by weight; the cumulative weights are computed once (hot loop)."""

    def __init__(self, pairs):
        self.values = [value for value, _weight in pairs]
        self.cumulative = list(accumulate(weight for _value, weight in pairs))

    def draw(self, rng):
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


# Days between the due date and the payment: (cumulative probability, (earliest, latest)).
PUNCTUAL_DELAYS = [(0.55, (0, 0)), (0.75, (-5, -1)), (0.93, (1, 5)), (0.99, (6, 30)), (1.0, (31, 60))]
HABITUALLY_LATE_DELAYS = [(0.20, (0, 0)), (0.30, (-3, -1)), (0.70, (1, 10)), (0.95, (11, 35)), (1.0, (36, 75))]
HABITUALLY_LATE_SHARE = 0.12
# How a payment that is not an on-time automatic debit (or an agency's recovery) arrives.
PAYMENT_CHANNELS = _Weighted(
    [(PaymentChannel.PAYMENT_GATEWAY, 60), (PaymentChannel.BANK_TRANSFER, 35), (PaymentChannel.CASH, 5)]
)
PARTIAL_PAYMENT_PROBABILITY = 0.02  # an instalment is first paid in part, the rest some days later
PARTIAL_BEFORE_DEFAULT_PROBABILITY = 0.35  # a borrower who stops pays part of the first missed instalment
REPEAT_BORROWER_SHARE = 0.12  # loans that go to a borrower who already has one
# Where a loan that stops paying stands today: (days past due from, to, weight). Every bucket
# M1..M7 is represented; M7+ collects everything older than half a year.
DEFAULT_AGES = _Weighted(
    [((1, 30), 22), ((31, 60), 14), ((61, 90), 12), ((91, 120), 10), ((121, 150), 9), ((151, 180), 8), ((181, 540), 25)]
)

# Plain strings (equal to the choices) for the values written millions of times: COPY's text is
# built from them as they are.
COMPONENTS = [component.value for component, _due, _paid in Installment.COMPONENT_FIELDS]
COST, FEE, PENALTY, INTEREST, PRINCIPAL = (
    c.value for c in (Component.COST, Component.FEE, Component.PENALTY, Component.INTEREST, Component.PRINCIPAL)
)
PAID, PARTIALLY_PAID, PENDING = (
    s.value for s in (InstallmentStatus.PAID, InstallmentStatus.PARTIALLY_PAID, InstallmentStatus.PENDING)
)


# --- Entry point -----------------------------------------------------------------------------------


@dataclass
class SeedSummary:
    seed: int
    as_of: date
    products: int = 0
    borrowers: int = 0
    contact_points: int = 0
    loans: int = 0
    installments: int = 0
    payments: int = 0
    allocations: int = 0
    collateral: int = 0
    seconds: float = 0.0
    users: list[DemoUser] = field(default_factory=list)

    def as_data(self):
        """The figures for the audit entry."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "users"}


def seed_demo(*, loans: int, seed: int = DEFAULT_SEED, progress: Callable[[int, int], None] | None = None):
    """Create the demo products and users and `loans` loans with their borrowers and histories up
    to today's business date, in one transaction. `progress(done, total)` is called per chunk."""
    started = time.perf_counter()
    today = business_today()
    summary = SeedSummary(seed=seed, as_of=today)
    with transaction.atomic():
        products = ensure_demo_products()
        summary.products = len(products)
        summary.users = ensure_demo_users()
        first_new_id = (Loan.objects.aggregate(last=Max("id"))["last"] or 0) + 1
        tables = _Tables()
        builder = _PortfolioBuilder(rng=random.Random(seed), today=today, products=products, tables=tables)
        done = 0
        while done < loans:
            count = min(CHUNK_LOANS, loans - done)
            builder.add_loans(count)
            tables.flush()
            done += count
            if progress:
                progress(done, loans)
        tables.reset_sequences()
        _accrue_penalties(today, first_new_id)
        _count_rows(summary, tables)
        summary.seconds = round(time.perf_counter() - started, 1)
        log_action(actor="system", action="loans.demo.seeded", data=summary.as_data())
    return summary


def _accrue_penalties(today, first_id):
    """The histories carry no penalty; the daily run's delinquency update accrues it to today (and
    sets days past due, buckets and classes the same way the daily run will)."""
    last_id = Loan.objects.aggregate(last=Max("id"))["last"] or 0
    for low in range(first_id, last_id + 1, DELINQUENCY_CHUNK):
        delinquency.update_range(as_of=today, first_id=low, last_id=min(low + DELINQUENCY_CHUNK - 1, last_id))


def _count_rows(summary, tables):
    summary.borrowers = tables.borrowers.written
    summary.contact_points = tables.contact_points.written
    summary.loans = tables.loans.written
    summary.installments = tables.installments.written
    summary.payments = tables.payments.written
    summary.allocations = tables.allocations.written
    summary.collateral = tables.collateral.written


def ensure_demo_products() -> list[tuple[LoanProduct, ProductSpec]]:
    """The demo products, created once by code; a product edited since keeps its edits and new
    loans respect its limits."""
    products = []
    for spec in PRODUCT_SPECS:
        product, _created = LoanProduct.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "kind": spec.kind,
                "repayment_method": spec.method,
                "min_principal": Decimal(spec.principal[0]),
                "max_principal": Decimal(spec.principal[1]),
                "min_term_months": min(spec.terms),
                "max_term_months": max(spec.terms),
                "max_annual_rate": Decimal("0.240000"),  # the 24% line courts hold lenders to
                "monthly_fee_rate": Decimal(spec.monthly_fee_rate),
                "penalty_rate": Decimal("0.180000"),
                "grace_days": spec.grace_days,
                "allocation_order": AllocationOrder.CIVIL_CODE_561,
            },
        )
        products.append((product, spec))
    return products


def ensure_demo_users() -> list[DemoUser]:
    """The demo logins, created when missing; an existing one gets the demo password and its
    role back. The password is hashed once and shared: hashing is deliberately slow."""
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)
    for demo in DEMO_USERS:
        user, _created = user_model.objects.get_or_create(username=demo.username)
        user.password = password
        user.first_name, user.last_name = demo.first_name, demo.last_name
        user.email = f"{demo.username}@huishou.example.com"
        user.is_active, user.is_staff, user.is_superuser = True, demo.is_staff, demo.is_superuser
        user.save()
        user.groups.set([Group.objects.get_or_create(name=demo.group)[0]] if demo.group else [])
    return DEMO_USERS


# --- Bulk writing ----------------------------------------------------------------------------------


class _Table:
    """Rows of one model waiting to be written with COPY. Primary keys are given explicitly
    (counting on from the highest one in the table), so child rows can point at their parents
    before anything is written. Columns not listed are filled with the field's default (or NULL),
    so a field added to the model later does not break the seeding."""

    def __init__(self, model, columns, constants=None):
        self.model = model
        self.columns = ["id", *columns]
        constants = dict(constants or {})
        fields = {f.attname: f for f in model._meta.concrete_fields}
        for attname, model_field in fields.items():
            if attname not in self.columns and attname not in constants:
                constants[attname] = self._default(model_field)
        self.tail = tuple(fields[name].get_db_prep_save(value, connection) for name, value in constants.items())
        names = [*self.columns, *constants]
        self.column_sql = ", ".join(connection.ops.quote_name(fields[name].column) for name in names)
        self.next_id = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
        self.rows = []
        self.written = 0

    @staticmethod
    def _default(model_field):
        value = model_field.get_default()
        if value is None and not model_field.null:
            raise TypeError(f"seed_demo does not fill {model_field.model.__name__}.{model_field.name}: add it")
        return value

    def reserve(self, count=1) -> int:
        """Set aside `count` primary keys (for rows queued later) and return the first."""
        first = self.next_id
        self.next_id += count
        return first

    def add(self, *values, pk=None) -> int:
        """Queue one row (the values of `columns`, in order) and return its primary key."""
        pk = self.reserve() if pk is None else pk
        self.rows.append((pk, *values))
        return pk

    def add_named(self, pk=None, **values) -> int:
        """`add` with the values by column name, for the tables where reading matters more than
        the last microsecond."""
        if len(values) != len(self.columns) - 1:
            raise TypeError(f"{self.model.__name__} rows take {self.columns[1:]}, not {sorted(values)}")
        return self.add(*(values[name] for name in self.columns[1:]), pk=pk)

    def flush(self, cursor):
        """Write the queued rows with COPY (psycopg2's copy_expert): the statement names the table and
        its columns (quoted identifiers); the values travel as COPY's data, never in the SQL."""
        if not self.rows:
            return
        rows = [row + self.tail for row in self.rows] if self.tail else self.rows
        table = connection.ops.quote_name(self.model._meta.db_table)
        cursor.cursor.copy_expert(f"COPY {table} ({self.column_sql}) FROM STDIN", _CopyText(rows))
        self.written += len(rows)
        self.rows = []


class _CopyText:
    """Rows as PostgreSQL COPY text (tab-separated, \\N for NULL), read by psycopg2's
    copy_expert a block at a time, so the whole table is never one string in memory."""

    ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
    ROWS_PER_READ = 2000

    def __init__(self, rows):
        self.rows = rows
        self.position = 0

    def read(self, size=-1):
        rows = self.rows[self.position : self.position + self.ROWS_PER_READ]
        self.position += len(rows)
        return "".join("\t".join(map(self._field, row)) + "\n" for row in rows)

    readline = read

    @classmethod
    def _field(cls, value):
        if value is None:
            return "\\N"
        if isinstance(value, str):
            return value.translate(cls.ESCAPES)
        return str(value)  # numbers, Decimals, booleans, dates and aware datetimes in ISO form


class _Tables:
    """The tables the portfolio is written to, in the order they are filled."""

    def __init__(self):
        now = timezone.now()
        stamps = {"created_at": now, "updated_at": now}
        self.borrowers = _Table(Borrower, BORROWER_COLUMNS, stamps)
        self.contact_points = _Table(ContactPoint, CONTACT_POINT_COLUMNS, stamps)
        self.loans = _Table(
            Loan,
            LOAN_COLUMNS,
            {
                **stamps,
                "currency": "CNY",
                "manual_regulatory_class": None,
                "manual_class_reason": "",
                "observation_until": None,
                "costs_outstanding": ZERO,
            },
        )
        self.collateral = _Table(Collateral, COLLATERAL_COLUMNS, {**stamps, "lien_registered": True})
        self.installments = _Table(
            Installment,
            INSTALLMENT_COLUMNS,
            {"schedule_version": 1, "penalty_accrued": ZERO, "penalty_paid": ZERO, "cost_due": ZERO, "cost_paid": ZERO},
        )
        self.payments = _Table(
            Payment,
            PAYMENT_COLUMNS,
            {
                **stamps,
                "kind": PaymentKind.PAYMENT,
                "currency": "CNY",
                "unapplied_amount": ZERO,
                "reverses_id": None,
                "posted_by_id": None,
                "note": "",
            },
        )
        self.allocations = _Table(PaymentAllocation, ALLOCATION_COLUMNS)
        self.all = [
            self.borrowers,
            self.contact_points,
            self.loans,
            self.collateral,
            self.installments,
            self.payments,
            self.allocations,
        ]

    def flush(self):
        with connection.cursor() as cursor:
            for table in self.all:
                table.flush(cursor)

    def reset_sequences(self):
        """PostgreSQL's id sequences do not see explicit keys: move them past the new rows (Django's
        own `sqlsequencereset` statements, which name the tables and id columns and hold no values)."""
        statements = connection.ops.sequence_reset_sql(no_style(), [table.model for table in self.all])
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


# The columns each row gives, in order (the primary key comes first; see _Table).
# fmt: off
BORROWER_COLUMNS = [
    "kind", "name", "id_number", "phone", "email", "address", "monthly_income", "employer", "industry",
    "external_credit_score", "risk_grade", "language", "credit_reporting_consent", "sms_opt_out", "email_opt_out",
]
CONTACT_POINT_COLUMNS = ["borrower_id", "channel", "value", "relation", "contact_name", "is_verified"]
# What loan_refresh_balances maintains; _loan_balances computes them.
BALANCE_COLUMNS = [
    "status", "closed_on", "principal_outstanding", "interest_outstanding", "fees_outstanding",
    "penalty_outstanding", "overdue_amount", "credit_balance", "days_past_due", "overdue_since", "aging_bucket",
    "regulatory_class", "ifrs9_stage", "balances_as_of",
]
LOAN_COLUMNS = [
    "external_id", "borrower_id", "product_id", "principal", "annual_rate", "term_months", "disbursed_on",
    "first_due_date", "maturity_date", "annual_cost", *BALANCE_COLUMNS,
]
COLLATERAL_COLUMNS = [
    "loan_id", "kind", "description", "identifier", "owner_name", "appraised_value", "appraised_on",
    "lien_reference", "status",
]
INSTALLMENT_COLUMNS = [
    "loan_id", "seq", "due_date", "principal_due", "interest_due", "fee_due", "principal_paid", "interest_paid",
    "fee_paid", "status", "paid_on",
]
PAYMENT_COLUMNS = ["loan_id", "external_reference", "amount", "received_at", "value_date", "channel"]
ALLOCATION_COLUMNS = ["payment_id", "installment_id", "component", "amount", "applied_on"]
# fmt: on


# --- Identifiers -----------------------------------------------------------------------------------


def resident_id(region_code: str, birth_date: date, sequence: int) -> str:
    """An 18-digit resident ID (GB 11643): region, birth date, a 3-digit sequence, check digit.
    stdnum's calc_check_digit expects the number with a placeholder check digit."""
    body = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def organization_code(digits: str) -> str:
    """An organisation code (GB 11714): eight digits and their check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return digits + {10: "X", 11: "0"}.get(check, str(check))


def social_credit_code(region_code: str, organization_digits: str) -> str:
    """An 18-character unified social credit code (GB 32100) of a company registered with the
    market regulator (authority 9, type 1), with both its check characters."""
    body = f"91{region_code}{organization_code(organization_digits)}"
    return body + uscc.calc_check_digit(body)


VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"  # model-year codes, 2010 = A, repeating every 30 years


def vin(rng, wmi: str, model_year: int) -> str:
    """A 17-character vehicle identification number (ISO 3779 / GB 16735) with its check digit."""
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    descriptor = "".join(rng.choice(alphabet) for _ in range(5))
    rest = VIN_YEARS[(model_year - 2010) % 30] + rng.choice(alphabet) + f"{rng.randrange(1_000_000):06d}"
    unchecked = f"{wmi}{descriptor}0{rest}"
    check = sum(VIN_VALUES[c] * w for c, w in zip(unchecked, VIN_WEIGHTS, strict=True)) % 11
    return f"{wmi}{descriptor}{'X' if check == 10 else check}{rest}"


def licence_plate(rng, region: Region, new_energy: bool) -> str:
    """京A12345, or a green new-energy plate 京AD12345."""
    if new_energy:
        return f"{region.plate}{rng.choice('DF')}{rng.randrange(100_000):05d}"
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    tail = [rng.choice("0123456789") for _ in range(5)]
    if rng.random() < 0.4:
        tail[rng.randrange(5)] = rng.choice(letters)
    return region.plate + "".join(tail)


def _birth_years(region: Region, today: date) -> list[int]:
    """Birth years of borrowers aged 20 to 62 that a resident ID with this region code can carry:
    stdnum checks that the district existed then (many were created in the 1980s)."""
    years = range(today.year - 62, today.year - 19)
    return [year for year in years if ric.is_valid(resident_id(region.code, date(year, 6, 1), 1))]


# --- The portfolio ---------------------------------------------------------------------------------


class _IsoDates(dict):
    """date -> "YYYY-MM-DD", remembered. The millions of instalment, payment and allocation dates
    are written to COPY as ISO text, which PostgreSQL reads for a date column; each day is formatted
    once rather than once per value."""

    def __init__(self):
        super().__init__({None: None})

    def __missing__(self, day):
        self[day] = text = day.isoformat()
        return text


class _Schedules:
    """build_schedule's lines for the demo loans, as (seq, due date, principal, interest, fee).

    Its amounts depend on the method, principal, rate, term and fee only, never on the dates,
    and the demo lends round sums at tiered rates, so each combination is computed once by
    build_schedule and later loans only get their own dates, from schedule.due_dates (the dates
    build_schedule itself uses). That saves most of the seeding's schedule time; the tests compare
    every demo loan's instalments with build_schedule's."""

    def __init__(self):
        self.amounts = {}
        self.dates = {}
        self.costs = {}

    def lines(self, *, method, principal, annual_rate, term_months, disbursed_on, first_due_date, monthly_fee, basis):
        """The lines, and the comprehensive annual cost loan_create computes for them. Due dates on the
        contract day fall whole months from the disbursement, so the cost, like the amounts, depends
        on the terms alone (or, under an actual-days first period, on its length too)."""
        day = contract_day(disbursed_on, first_due_date)
        # Under an actual-days first period the first interest depends on the dates too.
        first_days = (first_due_date - disbursed_on).days if basis == FirstPeriodBasis.ACTUAL_DAYS else None
        key = (method, principal, annual_rate, term_months, monthly_fee, basis, first_days)
        amounts = self.amounts.get(key)
        if amounts is None:
            lines = build_schedule(
                method=method,
                principal=principal,
                annual_rate=annual_rate,
                term_months=term_months,
                first_due_date=first_due_date,
                monthly_fee=monthly_fee,
                day_of_month=day,
                first_period_basis=basis,
                disbursed_on=disbursed_on,
            )
            self.amounts[key] = [(line.principal, line.interest, line.fee) for line in lines]
            self.costs[key] = annual_cost(principal=principal, disbursed_on=disbursed_on, lines=lines)
            return [(line.seq, line.due_date, line.principal, line.interest, line.fee) for line in lines], self.costs[
                key
            ]
        # A bullet loan's one instalment falls due with the last month, like build_schedule's.
        dates = self._due_dates(first_due_date, term_months, day)[-len(amounts) :]
        lines = [(seq, due, *parts) for seq, (due, parts) in enumerate(zip(dates, amounts, strict=True), start=1)]
        return lines, self.costs[key]

    def _due_dates(self, first_due_date, term_months, day):
        key = (first_due_date, term_months, day)
        if key not in self.dates:
            self.dates[key] = due_dates(first_due_date, term_months, day_of_month=day)
        return self.dates[key]


class _Instalment:
    """One instalment while its repayment history is simulated: due and paid per component, and
    the total still outstanding (kept up to date by `pay`)."""

    __slots__ = ("due", "due_date", "paid", "paid_on", "pk", "seq", "total_due", "total_outstanding")

    def __init__(self, pk, seq, due_date, principal, interest, fee):
        self.pk, self.seq, self.due_date, self.paid_on = pk, seq, due_date, None
        self.due = {COST: ZERO, FEE: fee, PENALTY: ZERO, INTEREST: interest, PRINCIPAL: principal}
        self.paid = dict.fromkeys(self.due, ZERO)
        self.total_due = self.total_outstanding = principal + interest + fee

    def outstanding(self, component):
        return self.due[component] - self.paid[component]

    def pay(self, component, amount, applied_on):
        self.paid[component] += amount
        self.total_outstanding -= amount
        if self.total_outstanding <= 0:
            self.paid_on = applied_on

    @property
    def status(self):
        """As `_book_lines` sets it."""
        if self.total_outstanding <= 0:
            return PAID
        return PARTIALLY_PAID if self.total_outstanding < self.total_due else PENDING


@dataclass
class _BorrowerRef:
    pk: int
    name: str
    region: Region


@dataclass
class _LoanDraft:
    """A loan being generated, before its row is written."""

    pk: int
    product: LoanProduct
    spec: ProductSpec
    borrower: _BorrowerRef
    principal: Decimal
    annual_rate: Decimal
    term_months: int
    disbursed_on: date
    first_due_date: date  # as loan_create stores it: for a bullet loan, not the one instalment's date
    instalments: list[_Instalment]
    stop_seq: int | None  # the instalment a defaulting borrower stops paying at
    last_payment_on: date
    settled_count: int = 0  # how many instalments, from the first, are paid in full
    annual_cost: Decimal | None = None  # as loan_create computes it


class _PortfolioBuilder:
    """Draws borrowers, loans and repayment histories and queues their rows in `tables`."""

    def __init__(self, *, rng, today, products, tables):
        self.rng, self.today, self.tables = rng, today, tables
        self.products = products
        self.product_mix = _Weighted([(pair, pair[1].weight) for pair in products])
        self.birth_years = {region.code: _birth_years(region, today) for region in REGIONS}
        self.taken_ids = {
            kind: set(Borrower.objects.filter(kind=kind).values_list("id_number", flat=True))
            for kind in BorrowerKind.values
        }
        self.pool = {kind: [] for kind in BorrowerKind.values}  # borrowers of this run, for repeat loans
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.schedules = _Schedules()
        self.iso = _IsoDates()

    def add_loans(self, count):
        for _ in range(count):
            self.add_loan()

    def add_loan(self):
        product, spec = self.product_mix.draw(self.rng)
        draft = self._draft_loan(product, spec)
        self._simulate_repayments(draft)
        balances = _loan_balances(draft.instalments, self.today)
        self._queue_loan(draft, balances)
        if spec.kind in (ProductKind.CAR_TITLE, ProductKind.ENTERPRISE):
            self._queue_collateral(draft, balances)

    # -- borrowers --

    def _borrower(self, kind, good_payer):
        pool = self.pool[kind]
        if pool and self.rng.random() < REPEAT_BORROWER_SHARE:
            return self.rng.choice(pool)
        make = self._new_person if kind == BorrowerKind.PERSON else self._new_enterprise
        borrower = make(self.rng.choice(REGIONS), good_payer)
        pool.append(borrower)
        return borrower

    def _new_person(self, region, good_payer):
        rng = self.rng
        name, pinyin = _person_name(rng)
        birth_year = rng.choice(self.birth_years[region.code])
        id_number = self._unique_id(
            BorrowerKind.PERSON,
            lambda: resident_id(
                region.code, date(birth_year, 1, 1) + timedelta(days=rng.randrange(365)), rng.randrange(1000)
            ),
        )
        phone = _mobile(rng)
        email = f"{pinyin}{rng.randrange(1, 1000)}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.8 else ""
        score = _credit_score(rng, good_payer)
        employer, industry = _employer(rng, region)
        pk = self.tables.borrowers.add_named(
            kind=BorrowerKind.PERSON,
            name=name,
            id_number=id_number,
            phone=phone,
            email=email,
            address=_home_address(rng, region),
            monthly_income=Decimal(rng.randrange(30, 400 if rng.random() < 0.9 else 1500) * 100),
            employer=employer,
            industry=industry,
            external_credit_score=score,
            risk_grade=_risk_grade(score),
            language=Language.ZH_HANS,
            credit_reporting_consent=rng.random() < 0.96,
            sms_opt_out=rng.random() < 0.02,
            email_opt_out=rng.random() < 0.03,
        )
        self._queue_contacts(pk, phone, email, third_party_relation=Relation.EMERGENCY, third_party_share=0.6)
        return _BorrowerRef(pk, name, region)

    def _new_enterprise(self, region, good_payer):
        rng = self.rng
        line, industry = rng.choice(COMPANY_LINES)
        name = f"{region.city}{rng.choice(COMPANY_BRANDS)}{line}有限公司"
        id_number = self._unique_id(
            BorrowerKind.ENTERPRISE, lambda: social_credit_code(region.code, f"{rng.randrange(10**8):08d}")
        )
        phone = _mobile(rng)
        email = f"finance{rng.randrange(1, 10_000)}@{rng.choice(EMAIL_DOMAINS)}"
        score = _credit_score(rng, good_payer)
        pk = self.tables.borrowers.add_named(
            kind=BorrowerKind.ENTERPRISE,
            name=name,
            id_number=id_number,
            phone=phone,
            email=email,
            address=_office_address(rng, region),
            monthly_income=Decimal(rng.randrange(20, 1000) * 10_000),  # monthly revenue
            employer="",
            industry=industry,
            external_credit_score=score,
            risk_grade=_risk_grade(score),
            language=Language.ZH_HANS,
            credit_reporting_consent=True,
            sms_opt_out=False,
            email_opt_out=False,
        )
        # The legal representative guarantees the company's loans personally.
        self._queue_contacts(pk, phone, email, third_party_relation=Relation.GUARANTOR, third_party_share=1.0)
        return _BorrowerRef(pk, name, region)

    def _unique_id(self, kind, generate):
        """A generated identifier no borrower of this kind has yet (in the database or this run)."""
        taken = self.taken_ids[kind]
        value = generate()
        while value in taken:
            value = generate()
        taken.add(value)
        return value

    def _queue_contacts(self, borrower_pk, phone, email, *, third_party_relation, third_party_share):
        """The borrower's own mobile (and e-mail), and for some a third party with a name."""
        table, rng = self.tables.contact_points, self.rng
        table.add(borrower_pk, Channel.MOBILE, phone, Relation.SELF, "", True)
        if email:
            table.add(borrower_pk, Channel.EMAIL, email, Relation.SELF, "", rng.random() < 0.5)
        if rng.random() < third_party_share:
            relation = third_party_relation
            if relation == Relation.EMERGENCY and rng.random() < 0.4:
                relation = Relation.SPOUSE
            table.add(borrower_pk, Channel.MOBILE, _mobile(rng), relation, _person_name(rng)[0], False)

    # -- loans --

    def _draft_loan(self, product, spec):
        rng = self.rng
        defaults = rng.random() < spec.default_probability
        kind = BorrowerKind.ENTERPRISE if spec.kind == ProductKind.ENTERPRISE else BorrowerKind.PERSON
        borrower = self._borrower(kind, good_payer=not defaults)
        principal = _draw_principal(rng, product, spec)
        annual_rate = _draw_rate(rng, product, spec)
        terms = [t for t in spec.terms if product.min_term_months <= t <= product.max_term_months]
        term = rng.choice(terms or [product.min_term_months])
        disbursed_on = self.today - timedelta(days=rng.randint(1, HISTORY_DAYS))
        first_due_date = disbursed_on + relativedelta(months=1)  # loan_create's default
        lines, cost = self.schedules.lines(
            method=product.repayment_method,
            principal=principal,
            annual_rate=annual_rate,
            term_months=term,
            disbursed_on=disbursed_on,
            first_due_date=first_due_date,
            monthly_fee=to_fen(principal * product.monthly_fee_rate),
            basis=product.first_period_basis,
        )
        first_pk = self.tables.installments.reserve(len(lines))
        instalments = [_Instalment(first_pk + k, *line) for k, line in enumerate(lines)]
        return _LoanDraft(
            pk=self.tables.loans.reserve(),
            product=product,
            spec=spec,
            borrower=borrower,
            principal=principal,
            annual_rate=annual_rate,
            term_months=term,
            disbursed_on=disbursed_on,
            first_due_date=first_due_date,
            instalments=instalments,
            stop_seq=self._stop_seq(instalments) if defaults else None,
            last_payment_on=disbursed_on,
            annual_cost=cost,
        )

    def _stop_seq(self, instalments):
        """The instalment a defaulting borrower stops at, chosen so that today it is in one of the
        aging buckets (weighted; M7+ only for loans old enough)."""
        low, high = DEFAULT_AGES.draw(self.rng)
        fallen_due = [i for i in instalments if i.due_date < self.today]
        in_range = [i for i in fallen_due if low <= (self.today - i.due_date).days <= high]
        choice = in_range or fallen_due
        return self.rng.choice(choice).seq if choice else None

    def _queue_loan(self, draft, balances):
        """The loan row (external id from its key, so unique on every run) and its schedule."""
        self.tables.loans.add_named(
            pk=draft.pk,
            external_id=f"DEMO-{draft.pk:07d}",
            borrower_id=draft.borrower.pk,
            product_id=draft.product.pk,
            principal=draft.principal,
            annual_rate=draft.annual_rate,
            term_months=draft.term_months,
            disbursed_on=draft.disbursed_on,
            first_due_date=draft.instalments[0].due_date,  # a bullet loan falls due once, at maturity
            maturity_date=draft.instalments[-1].due_date,
            annual_cost=draft.annual_cost,
            **balances,
        )
        add, iso = self.tables.installments.add, self.iso
        for i in draft.instalments:
            due, paid = i.due, i.paid
            add(
                draft.pk,
                i.seq,
                iso[i.due_date],
                due[PRINCIPAL],
                due[INTEREST],
                due[FEE],
                paid[PRINCIPAL],
                paid[INTEREST],
                paid[FEE],
                i.status,
                iso[i.paid_on],
                pk=i.pk,
            )

    def _queue_collateral(self, draft, balances):
        rng = self.rng
        region = draft.borrower.region
        if draft.spec.kind == ProductKind.CAR_TITLE:
            wmi, make, models = rng.choice(CAR_MAKES)
            model_year = rng.randint(draft.disbursed_on.year - 8, draft.disbursed_on.year)
            plate = licence_plate(rng, region, make in NEW_ENERGY_MAKES)
            kind = CollateralKind.VEHICLE
            description = f"{make} {rng.choice(models)} {model_year}款 {rng.choice(CAR_COLOURS)}"
            identifier = f"{vin(rng, wmi, model_year)} {plate}"
            value = _round_to(draft.principal / Decimal(str(rng.uniform(0.5, 0.8))), 1_000)
            lien = f"{region.plate[0]}车押{draft.disbursed_on:%Y}{rng.randrange(10**7):07d}"
        else:
            kind = CollateralKind.REAL_ESTATE
            description = f"{_office_address(rng, region)} 工业/商业用房 {rng.randrange(80, 3000)}平方米"
            year = rng.randint(2010, draft.disbursed_on.year)
            registry = f"{region.plate[0]}（{year}）{region.registry}"
            identifier = f"{registry}不动产权第{rng.randrange(10**7):07d}号"
            value = _round_to(draft.principal / Decimal(str(rng.uniform(0.4, 0.7))), 10_000)
            lien_registry = f"{region.plate[0]}（{draft.disbursed_on:%Y}）{region.registry}"
            lien = f"{lien_registry}不动产证明第{rng.randrange(10**7):07d}号"
        self.tables.collateral.add_named(
            loan_id=draft.pk,
            kind=kind,
            description=description,
            identifier=identifier,
            owner_name=draft.borrower.name,
            appraised_value=value,
            appraised_on=draft.disbursed_on - timedelta(days=rng.randint(3, 20)),
            lien_reference=lien,
            status=_collateral_status(rng, kind, balances),
        )

    # -- repayment histories --

    def _simulate_repayments(self, draft):
        """Walk the instalments that have fallen due: each is paid around its due date (some early,
        some late, a few first in part), until the borrower stops (if he does) or the next payment
        would fall on or after today. A payment settles everything due by the day it applies to."""
        rng, today = self.rng, self.today
        delays = HABITUALLY_LATE_DELAYS if rng.random() < HABITUALLY_LATE_SHARE else PUNCTUAL_DELAYS
        for instalment in draft.instalments:
            if instalment.due_date >= today:
                break
            if instalment.total_outstanding <= 0:
                continue  # settled by a late payment that covered it too
            if draft.stop_seq is not None and instalment.seq >= draft.stop_seq:
                self._last_partial_payment(draft, instalment)
                break
            pay_on = max(instalment.due_date + timedelta(days=_draw_delay(rng, delays)), draft.last_payment_on)
            if pay_on >= today:
                break
            if pay_on >= instalment.due_date and rng.random() < PARTIAL_PAYMENT_PROBABILITY:
                self._post_payment(draft, pay_on, share=rng.uniform(0.2, 0.8))
                pay_on += timedelta(days=rng.randint(5, 25))
                if pay_on >= today:
                    break
            self._post_payment(draft, pay_on)

    def _last_partial_payment(self, draft, instalment):
        """Some borrowers who stop paying still pay part of the first instalment they miss."""
        rng = self.rng
        if rng.random() >= PARTIAL_BEFORE_DEFAULT_PROBABILITY:
            return
        pay_on = max(instalment.due_date + timedelta(days=rng.randint(0, 20)), draft.last_payment_on)
        if pay_on < self.today:
            self._post_payment(draft, pay_on, share=rng.uniform(0.1, 0.7))

    def _post_payment(self, draft, value_date, share=None):
        """Book one payment as payment_post and the daily credit application would: money paid
        before the due date waits and applies on the due date; on the day it applies it pays the
        open instalments (due by then) in the product's allocation order. Without a `share` it
        settles them all; with one it pays that part of what is open, in whole yuan."""
        unsettled = _unsettled(draft)
        first_open = next(unsettled)
        applied_on = max(value_date, first_open.due_date)
        open_instalments = [first_open]
        for instalment in unsettled:
            if instalment.due_date > applied_on:
                break
            open_instalments.append(instalment)
        owed = sum(i.total_outstanding for i in open_instalments)
        amount = owed if share is None else min(owed, max(Decimal(int(owed * Decimal(str(share)))), Decimal(1)))
        lines = _allocate(amount, open_instalments, draft.product.allocation_order)
        payment_pk = self._queue_payment(draft, value_date, amount, late_days=(value_date - first_open.due_date).days)
        add, day = self.tables.allocations.add, self.iso[applied_on]
        for instalment, component, part in lines:
            instalment.pay(component, part, applied_on)
            add(payment_pk, instalment.pk, component, part, day)
        draft.last_payment_on = value_date

    def _queue_payment(self, draft, value_date, amount, *, late_days):
        rng = self.rng
        if late_days == 0 and rng.random() < 0.6:
            channel, hour = PaymentChannel.AUTO_DEBIT, rng.randint(6, 8)
        elif late_days > 30 and rng.random() < 0.3:
            channel, hour = PaymentChannel.AGENCY, rng.randint(9, 18)
        else:
            channel = PAYMENT_CHANNELS.draw(rng)
            hour = rng.randint(8, 22)
        received_at = datetime.combine(value_date, clock(hour, rng.randrange(60), rng.randrange(60)), self.zone)
        table = self.tables.payments
        return table.add(
            draft.pk,
            f"DEMO-PAY-{table.next_id:08d}",
            amount,
            received_at,
            self.iso[value_date],
            channel,
        )


def _allocate(amount, open_instalments, order):
    """(instalment, component, amount) lines splitting `amount` as rules.allocate does. With one
    open instalment (most payments) that is its components in the order's sequence, done here
    directly because it runs half a million times; several go through rules.allocate itself."""
    if len(open_instalments) == 1:
        (instalment,), left, lines = open_instalments, amount, []
        for component in COMPONENT_SEQUENCE[order]:
            part = min(left, instalment.outstanding(component))
            if part > 0:
                lines.append((instalment, component, part))
                left -= part
    else:
        by_pk = {i.pk: i for i in open_instalments}
        items = [
            rules.OpenItem(i.pk, i.due_date, i.seq, component, outstanding)
            for i in open_instalments
            for component in COMPONENTS
            if (outstanding := i.outstanding(component)) > 0
        ]
        allocated, left = rules.allocate(amount, items, order)
        lines = [(by_pk[line.installment_id], line.component, line.amount) for line in allocated]
    if left:
        raise ValueError("a demo payment never exceeds what is due")
    return lines


# Each allocation order's components for a single instalment: its ranks, one after the other.
COMPONENT_SEQUENCE = {
    order: [component.value for rank in ranks for component in rank] for order, ranks in rules.ALLOCATION_ORDERS.items()
}


def _unsettled(draft):
    """The loan's instalments from the oldest one not yet settled on (instalments are settled
    oldest first, so the ones before it need no second look)."""
    instalments = draft.instalments
    while draft.settled_count < len(instalments) and instalments[draft.settled_count].total_outstanding <= 0:
        draft.settled_count += 1
    return (i for i in instalments[draft.settled_count :] if i.total_outstanding > 0)


def _loan_balances(instalments, as_of):
    """The loan's denormalised balances exactly as loans.services.loan_refresh_balances computes
    them from its instalments (no penalty accrued, no credit held, no manual class)."""
    outstanding = {c: sum((i.outstanding(c) for i in instalments), ZERO) for c in COMPONENTS}
    overdue = [i for i in instalments if i.due_date < as_of and i.total_outstanding > 0]
    overdue_amount = to_fen(sum((i.total_outstanding for i in overdue), ZERO))
    oldest = min(i.due_date for i in overdue) if overdue_amount > 0 else None
    days_past_due = (as_of - oldest).days if oldest else 0
    total = sum(outstanding.values())
    if total <= 0:
        status, closed_on = LoanStatus.PAID_OFF, max(i.paid_on for i in instalments)
    else:
        status, closed_on = (LoanStatus.OVERDUE if overdue_amount > 0 else LoanStatus.ACTIVE), None
    return {
        "status": status,
        "closed_on": closed_on,
        "principal_outstanding": to_fen(outstanding[Component.PRINCIPAL]),
        "interest_outstanding": to_fen(outstanding[Component.INTEREST]),
        "fees_outstanding": to_fen(outstanding[Component.FEE]),
        "penalty_outstanding": to_fen(outstanding[Component.PENALTY]),
        "overdue_amount": overdue_amount,
        "credit_balance": ZERO,
        "days_past_due": days_past_due,
        "overdue_since": oldest + timedelta(days=1) if oldest else None,
        "aging_bucket": rules.aging_bucket(days_past_due),
        "regulatory_class": rules.regulatory_class(days_past_due, None),
        "ifrs9_stage": rules.ifrs9_stage(days_past_due),
        "balances_as_of": as_of,
    }


# --- Small draws -----------------------------------------------------------------------------------


def _draw_delay(rng, table):
    roll = rng.random()
    for cumulative, (earliest, latest) in table:
        if roll < cumulative:
            return rng.randint(earliest, latest)
    return 0


def _draw_principal(rng, product, spec):
    """A whole number of steps between the product's limits, log-uniform so that small loans are
    the common ones (the float only draws the count of steps, never an amount)."""
    step = spec.principal[2]
    low = max(int(product.min_principal // step), 1)
    high = max(int(product.max_principal // step), low)
    steps = min(max(round(low * (high / low) ** rng.random()), low), high)
    return Decimal(steps * step).quantize(Decimal("0.01"))


def _draw_rate(rng, product, spec):
    return min(Decimal(rng.choice(spec.rates)), product.max_annual_rate)


def _round_to(value, step):
    return (Decimal(value) / step).quantize(Decimal(1)) * step


def _person_name(rng):
    """A Chinese name (surname and one or two given characters) and its pinyin."""
    surname, surname_pinyin = rng.choice(SURNAMES)
    given = [rng.choice(GIVEN_NAME_CHARS) for _ in range(1 if rng.random() < 0.35 else 2)]
    return surname + "".join(c for c, _p in given), surname_pinyin + "".join(p for _c, p in given)


def _mobile(rng):
    return f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def _credit_score(rng, good_payer):
    """External score 300-1000; those who will stop paying score lower on average."""
    return max(300, min(1000, round(rng.gauss(690 if good_payer else 590, 80))))


def _risk_grade(score):
    for floor, grade in ((760, RiskGrade.A), (690, RiskGrade.B), (620, RiskGrade.C), (550, RiskGrade.D)):
        if score >= floor:
            return grade
    return RiskGrade.E


def _employer(rng, region):
    roll = rng.random()
    if roll < 0.75:
        line, industry = rng.choice(COMPANY_LINES)
        return f"{region.city}{rng.choice(COMPANY_BRANDS)}{line}有限公司", industry
    if roll < 0.9:
        return "个体工商户", "批发和零售业"
    return "", ""


def _home_address(rng, region):
    return (
        f"{region.address}{rng.choice(ROADS)}{rng.randint(1, 999)}号{rng.choice(COMMUNITIES)}"
        f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 33)}{rng.randint(1, 4):02d}室"
    )


def _office_address(rng, region):
    return f"{region.address}{rng.choice(ROADS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}层"


def _collateral_status(rng, kind, balances):
    """Released once the loan is repaid; a car whose loan is deep in arrears may have been seized."""
    if balances["status"] == LoanStatus.PAID_OFF:
        return CollateralStatus.RELEASED
    if kind == CollateralKind.VEHICLE and balances["days_past_due"] > 90 and rng.random() < 0.3:
        return CollateralStatus.SEIZED
    return CollateralStatus.HELD
