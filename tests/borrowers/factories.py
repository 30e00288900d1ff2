import random

import factory
from stdnum.cn import ric, uscc

from borrowers.choices import BorrowerKind
from borrowers.models import Borrower

_rng = random.Random(20261123)


def make_resident_id(rng=_rng, birth_year=None):
    """A valid 18-digit resident ID (Beijing Dongcheng region code, a real calendar date)."""
    year = birth_year or rng.randint(1960, 2003)
    body = f"110101{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


def make_credit_code(rng=_rng, authority="9"):
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = authority + "1" + "110000" + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def make_mobile(rng=_rng):
    return f"+86{rng.choice(['138', '139', '150', '186', '177'])}{rng.randint(0, 99999999):08d}"


class BorrowerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Borrower

    kind = BorrowerKind.PERSON
    name = factory.Sequence(lambda n: f"张三{n}")
    id_number = factory.LazyFunction(make_resident_id)
    phone = factory.LazyFunction(make_mobile)
    email = factory.Sequence(lambda n: f"borrower{n}@example.cn")


class EnterpriseFactory(BorrowerFactory):
    kind = BorrowerKind.ENTERPRISE
    name = factory.Sequence(lambda n: f"回收测试科技有限公司{n}")
    id_number = factory.LazyFunction(make_credit_code)
