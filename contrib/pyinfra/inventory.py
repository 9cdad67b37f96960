# The hosts fixenv fixes (a pyinfra inventory). As shipped, only this machine (pyinfra's
# @local connector, no SSH), so `pyinfra inventory.py deploy.py --dry` works as is and
# changes nothing. For a fleet, list your hosts instead, e.g.:
#
#   fleet = [
#       "build-01.example.internal",
#       ("build-02.example.internal", {"ssh_user": "admin", "_sudo": True}),
#       ("10.0.0.7", {"ssh_port": 2222, "fixenv_python": "/opt/venv/bin/python"}),
#   ]
#
# Each host needs SSH, a python3 >= 3.9 and root (or sudo: --sudo / "_sudo": True).
fleet = ["@local"]
