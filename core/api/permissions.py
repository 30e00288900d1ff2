from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django's model permissions, reads included: an API client sees only what its user or group
    was granted (a payment gateway may post payments but not read borrowers). Object-level limits
    (an officer's own cases) are applied by the views' querysets."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class ViewPermissionToAct(ModelPermissions):
    """For the POST actions whose finer checks are the services' (the case's officer, the team lead
    or a manager; a manager other than the requester; a manager setting a loan's class): reading the
    model is enough to ask."""

    perms_map = {**ModelPermissions.perms_map, "POST": ModelPermissions.perms_map["GET"]}
