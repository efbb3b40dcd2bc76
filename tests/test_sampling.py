"""Client sampling and straggler draws: functions of (seed, round), paired across algorithms."""

from __future__ import annotations

from fedbench.fl.sampling import plan_round, sample_clients


def test_each_round_samples_distinct_clients() -> None:
    for rnd in range(1, 50):
        clients = sample_clients(0, rnd, 1000, 10)
        assert len(clients) == 10 and len(set(clients.tolist())) == 10


def test_sampling_depends_on_seed_and_round_only() -> None:
    assert sample_clients(3, 7, 1000, 10).tolist() == sample_clients(3, 7, 1000, 10).tolist()
    assert sample_clients(3, 7, 1000, 10).tolist() != sample_clients(3, 8, 1000, 10).tolist()
    assert sample_clients(3, 7, 1000, 10).tolist() != sample_clients(4, 7, 1000, 10).tolist()


def test_stragglers_train_between_one_and_e_minus_one_epochs() -> None:
    tasks = [t for rnd in range(1, 200) for t in plan_round(0, rnd, 1000, 10, 10, 0.5)]
    short = [t.epochs for t in tasks if t.straggler]
    assert min(short) == 1 and max(short) == 9
    assert all(t.epochs == 10 for t in tasks if not t.straggler)
    assert 0.45 < len(short) / len(tasks) < 0.55


def test_no_stragglers_at_rate_zero_and_all_at_rate_one() -> None:
    assert not any(t.straggler for t in plan_round(0, 1, 1000, 10, 10, 0.0))
    assert all(t.straggler for t in plan_round(0, 1, 1000, 10, 10, 1.0))


def test_fixed_count_rule_gives_exactly_round_of_rate_times_clients() -> None:
    for rate, expected in [(0.0, 0), (0.5, 5), (0.9, 9), (1.0, 10)]:
        for rnd in range(1, 30):
            tasks = plan_round(1, rnd, 1000, 10, 20, rate, rule="fixed-count")
            assert sum(t.straggler for t in tasks) == expected


def test_straggler_draws_at_a_rate_are_nested_in_higher_rates() -> None:
    # one uniform draw per client: a straggler at 0.5 is also one at 0.9 (paired comparisons)
    low = plan_round(0, 5, 1000, 10, 10, 0.5)
    high = plan_round(0, 5, 1000, 10, 10, 0.9)
    assert [t.partition for t in low] == [t.partition for t in high]
    assert all(h.straggler for lo, h in zip(low, high, strict=True) if lo.straggler)
