"""Fixtures for the midge integration tests; see README.md and harness.py."""

import pytest

import harness


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "midge_only: behaviour specific to midge; skipped when MIDGE_IS_MOSQUITTO=1")


def pytest_collection_modifyitems(config, items):
    path, problem = harness.broker_binary()
    if path is None:
        skip = pytest.mark.skip(reason=problem)
        for item in items:
            item.add_marker(skip)
        return
    if harness.IS_MOSQUITTO:
        skip = pytest.mark.skip(reason="midge-only behaviour (MIDGE_IS_MOSQUITTO=1)")
        for item in items:
            if "midge_only" in item.keywords:
                item.add_marker(skip)


def pytest_report_header(config):
    path, problem = harness.broker_binary()
    prefix = " ".join(harness.EXEC_PREFIX) or "(none)"
    return [f"broker: {path or problem}; exec prefix: {prefix}; "
            f"time scale: {harness.TIME_SCALE:g}; mosquitto stand-in: {harness.IS_MOSQUITTO}"]


def _brokers_of(item):
    brokers = []
    for value in item.funcargs.values():
        if isinstance(value, harness.Broker):
            brokers.append(value)
        brokers.extend(getattr(value, "started", ()))
    return brokers


def _report_dead_brokers(item):
    """Description of brokers that died on their own (reported once each)."""
    dead = []
    for broker in _brokers_of(item):
        if not broker.reported and not broker.alive():
            broker.reported = True
            dead.append(broker.describe_exit())
    return "broker died during the test:\n" + "\n".join(dead) if dead else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not only its teardown) when a broker died during it."""
    try:
        result = yield
    except Exception as exc:
        dead = _report_dead_brokers(item)
        if dead:
            pytest.fail(f"{dead}\n(the test then failed with: {exc!r})", pytrace=False)
        raise
    dead = _report_dead_brokers(item)
    if dead:
        pytest.fail(dead, pytrace=False)
    return result


def _broker_factory(workdir):
    started = []

    def start(config_lines=(), use_config=True):
        broker = harness.start_broker(workdir, config_lines, use_config)
        started.append(broker)
        return broker

    start.started = started

    def stop_all():
        problems = [p for p in (b.stop(harness.scaled(5)) for b in started) if p]
        if problems:
            pytest.fail("broker died:\n" + "\n".join(problems), pytrace=False)

    return start, stop_all


@pytest.fixture
def broker(tmp_path):
    """Factory: broker(config_lines=(), use_config=True) -> started harness.Broker.

    Teardown stops every broker started, and fails the test if one of them
    had died on its own (crash report includes its stderr).
    """
    start, stop_all = _broker_factory(tmp_path)
    yield start
    stop_all()


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory):
    """One default broker shared by the tests of a module."""
    start, stop_all = _broker_factory(tmp_path_factory.mktemp("broker"))
    yield start()
    stop_all()
