"""What both fuzz runners share: `tests/test_fuzz.py` (in `make test`) and `scripts/fuzz_live.sh` (`make fuzz`,
schemathesis's own CLI against a running service) read `schemathesis.toml` here, which loads `hooks.py`.

Each runner kept its own copy of these settings, and the CLI's named operation ids the spec had since
renamed: a filter that matches nothing is silent. In one place, and `test_fuzz.py` holds each operation id
named here to `api-spec.yml`'s.
"""
