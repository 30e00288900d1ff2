"""The default reminder templates and one default strategy per product kind (DESIGN section 7):
D-3 "due soon" SMS, D+1 SMS, D+3 SMS and email (a payment-due SMS instead while a product's grace
days last), D+7 call task, D+15 email with the amount and the
consequences, D+30 notice before credit-bureau reporting (征信业管理条例 art. 15). Created by a data
migration and editable in the admin; `create_defaults` only adds what is missing. It takes the model
classes so the migration can pass its historical ones."""

OVERDUE = ["early_warning", "minor", "serious"]
WORKED = ["minor", "serious"]

TEMPLATES = [
    {
        "code": "due-soon-sms",
        "name": "到期提醒短信 / Due soon SMS",
        "channel": "sms",
        "body_zh_hans": "尊敬的{{ name }}，您尾号{{ loan_reference }}的借款将于{{ due_date }}到期，"
        "应还{{ amount_due }}。{{ how_to_pay }}",
        "body_en": "Dear {{ name }}, your loan ending {{ loan_reference }} falls due on {{ due_date }}: "
        "{{ amount_due }}. {{ how_to_pay }}",
    },
    {
        "code": "payment-due-sms",
        "name": "宽限期内还款提醒短信 / Payment due (within grace) SMS",
        "channel": "sms",
        "body_zh_hans": "尊敬的{{ name }}，您尾号{{ loan_reference }}的借款已于{{ due_date }}到期，"
        "应还{{ amount_due }}。宽限期内还款视为按时还款。{{ how_to_pay }}",
        "body_en": "Dear {{ name }}, your loan ending {{ loan_reference }} fell due on {{ due_date }}: "
        "{{ amount_due }}. Paying within the grace days counts as paying on time. {{ how_to_pay }}",
    },
    {
        "code": "overdue-d1-sms",
        "name": "逾期首日短信 / First overdue SMS",
        "channel": "sms",
        "body_zh_hans": "尊敬的{{ name }}，您尾号{{ loan_reference }}的借款已逾期{{ days_past_due }}天，"
        "逾期金额{{ amount_overdue }}，请尽快还款。{{ how_to_pay }}如有疑问请致电{{ hotline }}。",
        "body_en": "Dear {{ name }}, your loan ending {{ loan_reference }} is {{ days_past_due }} day(s) overdue: "
        "{{ amount_overdue }}. Please pay as soon as possible. {{ how_to_pay }} Questions: {{ hotline }}.",
    },
    {
        "code": "overdue-d3-sms",
        "name": "逾期三日短信 / Overdue day 3 SMS",
        "channel": "sms",
        "body_zh_hans": "{{ name }}您好，您的借款已逾期{{ days_past_due }}天，逾期金额{{ amount_overdue }}，"
        "逾期将按合同产生罚息。请今日还款，或致电{{ hotline }}商议还款安排。",
        "body_en": "Dear {{ name }}, your loan is {{ days_past_due }} days overdue ({{ amount_overdue }}) and "
        "default interest accrues under your contract. Please pay today or call {{ hotline }} to agree a plan.",
    },
    {
        "code": "overdue-d3-email",
        "name": "逾期三日邮件 / Overdue day 3 email",
        "channel": "email",
        "subject_zh_hans": "还款提醒：您尾号{{ loan_reference }}的借款已逾期",
        "body_zh_hans": "尊敬的{{ name }}：\n\n您尾号{{ loan_reference }}的借款自{{ due_date }}起逾期，"
        "目前逾期金额为{{ amount_overdue }}。\n\n{{ how_to_pay }}\n\n如您遇到还款困难，请致电{{ hotline }}，"
        "我们可以商议宽限或还款安排。",
        "subject_en": "Payment reminder: your loan ending {{ loan_reference }} is overdue",
        "body_en": "Dear {{ name }},\n\nYour loan ending {{ loan_reference }} has been overdue since {{ due_date }}; "
        "the overdue amount is {{ amount_overdue }}.\n\n{{ how_to_pay }}\n\nIf you have difficulty paying, "
        "call us on {{ hotline }}: we can discuss a grace period or a repayment plan.",
    },
    {
        "code": "overdue-d15-email",
        "name": "逾期十五日邮件（金额与后果） / Day 15 email: amount and consequences",
        "channel": "email",
        "subject_zh_hans": "重要：您的借款已逾期{{ days_past_due }}天",
        "body_zh_hans": "尊敬的{{ name }}：\n\n您尾号{{ loan_reference }}的借款已逾期{{ days_past_due }}天，"
        "逾期金额为{{ amount_overdue }}（含罚息）。\n\n继续逾期将持续产生罚息，并可能按合同约定影响您的信用记录，"
        "我们亦可能依法采取进一步的催收措施。\n\n{{ how_to_pay }}\n\n如有异议或困难，请致电{{ hotline }}。",
        "subject_en": "Important: your loan is {{ days_past_due }} days overdue",
        "body_en": "Dear {{ name }},\n\nYour loan ending {{ loan_reference }} is {{ days_past_due }} days overdue; "
        "the overdue amount is {{ amount_overdue }}, default interest included.\n\nIf it stays unpaid, default "
        "interest keeps accruing, your credit record may be affected as your contract provides, and we may take "
        "further lawful collection steps.\n\n{{ how_to_pay }}\n\nTo dispute or discuss: {{ hotline }}.",
    },
    {
        "code": "bureau-notice-sms",
        "name": "征信报送告知短信 / Credit-bureau notice SMS",
        "channel": "sms",
        "body_zh_hans": "{{ name }}您好，您的借款已逾期{{ days_past_due }}天，逾期金额{{ amount_overdue }}。"
        "根据《征信业管理条例》第十五条，如仍未还款，我们将向征信机构报送您的逾期信息。{{ how_to_pay }}",
        "body_en": "Dear {{ name }}, your loan is {{ days_past_due }} days overdue ({{ amount_overdue }}). Under "
        "article 15 of the Credit Reporting Regulations, if it stays unpaid we will report the overdue to the "
        "credit bureau. {{ how_to_pay }}",
    },
    {
        "code": "bureau-notice-email",
        "name": "征信报送告知邮件 / Credit-bureau notice email",
        "channel": "email",
        "subject_zh_hans": "征信报送告知",
        "body_zh_hans": "尊敬的{{ name }}：\n\n您尾号{{ loan_reference }}的借款已逾期{{ days_past_due }}天，"
        "逾期金额为{{ amount_overdue }}。根据《征信业管理条例》第十五条，特此告知：如您仍未还款，"
        "我们将向金融信用信息基础数据库报送您的逾期信息。\n\n{{ how_to_pay }}\n\n如有异议，请致电{{ hotline }}。",
        "subject_en": "Notice before reporting to the credit bureau",
        "body_en": "Dear {{ name }},\n\nYour loan ending {{ loan_reference }} is {{ days_past_due }} days overdue; "
        "the overdue amount is {{ amount_overdue }}. As article 15 of the Credit Reporting Regulations requires, "
        "we tell you beforehand: if it stays unpaid, we will report the overdue to the credit reference "
        "database.\n\n{{ how_to_pay }}\n\nTo dispute: {{ hotline }}.",
    },
]

# (order, offset, channel, template code, case states)
STEPS = [
    (10, -3, "sms", "due-soon-sms", []),
    (20, 1, "sms", "overdue-d1-sms", OVERDUE),
    (30, 3, "sms", "overdue-d3-sms", OVERDUE),
    (31, 3, "email", "overdue-d3-email", OVERDUE),
    (40, 7, "call_task", None, OVERDUE),
    (50, 15, "email", "overdue-d15-email", WORKED),
    (60, 30, "sms", "bureau-notice-sms", WORKED),
    (61, 30, "email", "bureau-notice-email", WORKED),
]

# Overdue steps whose day may fall within a product's grace days, and the payment-due template sent
# instead while it does (the instalment is not overdue yet).
GRACE_TEMPLATES = {"overdue-d1-sms": "payment-due-sms", "overdue-d3-sms": "payment-due-sms"}

KINDS = {
    "micro_loan": "网络小额贷款默认策略 / Online micro-loan default",
    "consumer_credit": "消费信贷默认策略 / Consumer credit default",
    "car_title": "车辆抵押贷款默认策略 / Car-title loan default",
    "mortgage": "房产抵押贷款默认策略 / Mortgage default",
    "enterprise": "企业经营贷款默认策略 / Enterprise loan default",
}


def create_defaults(Template, Strategy, Step):
    """Create the default templates and strategies that are missing; an edited one is left alone."""
    templates = {}
    for spec in TEMPLATES:
        templates[spec["code"]], _created = Template.objects.get_or_create(code=spec["code"], defaults=spec)
    for kind, name in KINDS.items():
        strategy, created = Strategy.objects.get_or_create(product_kind=kind, defaults={"name": name})
        if not created:
            continue
        Step.objects.bulk_create(
            Step(
                strategy=strategy,
                order=order,
                anchor="due_date",
                offset_days=offset,
                channel=channel,
                template=templates.get(code),
                case_states=states,
            )
            for order, offset, channel, code, states in STEPS
        )


def link_grace_templates(Template, Step):
    """Give the default overdue steps their payment-due template for days within the grace days
    (a step already given one is left alone)."""
    for spec in TEMPLATES:
        Template.objects.get_or_create(code=spec["code"], defaults=spec)
    for overdue, due in GRACE_TEMPLATES.items():
        Step.objects.filter(template__code=overdue, grace_template__isnull=True).update(
            grace_template=Template.objects.get(code=due)
        )


def remove_defaults(Template, Strategy):
    Strategy.objects.filter(product_kind__in=KINDS).delete()
    Template.objects.filter(code__in=[t["code"] for t in TEMPLATES]).delete()
