"""Synthetic demo shop: a seeded generator with known true parameters.

The embedded demo data in ``data/sample/`` is produced by :func:`generate_demo` (run
``make data``). Because every parameter is known, the demo doubles as a check of the
analyses: a BG/NBD fit on the demo transactions should land near :class:`DemoParameters`.

The purchase process is the BG/NBD model of Fader, Hardie & Lee (2005):

* each customer has a purchase rate ``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate
  ``alpha``, in purchases per **day**) and a dropout probability ``p ~ Beta(a, b)``;
* the first purchase happens at acquisition (uniform over the observation window);
* while alive, repeat purchases follow a Poisson process with rate ``lambda``;
* after each **repeat** purchase the customer drops out with probability ``p``; nobody drops
  out at the first purchase (so a customer with no repeat purchase is always alive).

Spend follows the Gamma-Gamma model of Fader, Hardie & Lee (2005b) as parameterised in
lifetimes: each customer has ``nu ~ Gamma(q, gamma)`` (shape ``q``, rate ``gamma``) and each
order value is ``Gamma(p_spend, nu)`` (shape ``p_spend``, rate ``nu``), so a customer's mean
order value is ``p_spend / nu`` and the population mean is ``p_spend * gamma / (q - 1)``.

Segments are tied to behaviour without changing those population distributions: a
customer's acquisition channel is drawn conditionally on the quantile of their dropout
probability, their country on the quantile of their purchase rate (a linear "tilt" that
integrates back to the stated mix), so channels really differ in retention and countries in
purchase frequency while ``p`` is still exactly ``Beta(a, b)`` and ``lambda`` exactly
``Gamma(r, alpha)`` over all customers.

Returns, survey responses (whose scores depend on each customer's dropout probability),
membership subscriptions and monthly retention costs are generated on top of the purchases;
see ``data/README.md`` for the documented parameters.

The generator of lifetimes (``generate_data.beta_geometric_nbd_model_transactional_data``)
does not run on pandas 2 or later; this module does not use it.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using iso-value curves for
customer base analysis. Journal of Marketing Research, 42(4), 415-430.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import integrate, special, stats

from retention_utils.config import AMOUNT, CUSTOMER, ORDER, ORDER_DATE, RESPONSE_DATE

DEMO_SEED = 2024
DEMO_START = "2024-01-01"
DEMO_END = "2025-12-31"
DEMO_CUSTOMERS = 5000

#: Table name (key of :func:`generate_demo`) -> file name in ``data/sample/``.
DEMO_FILES: dict[str, str] = {
    "transactions": "transactions.csv",
    "surveys": "surveys.csv",
    "subscriptions": "subscriptions.csv",
    "retention_costs": "retention_costs.csv",
}

_SECONDS_PER_DAY = 86_400
# Share of orders placed in each hour of the day (cosmetic: the calendar day of a purchase
# comes from the purchase process, only the time within that day is drawn from this profile).
_HOURLY_PROFILE = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3.5, 4.5, 5, 5.5, 6.5, 6, 5, 5, 5, 5.5, 6.5, 7.5, 8, 7, 5, 3]
)
_HOURLY_PROFILE = _HOURLY_PROFILE / _HOURLY_PROFILE.sum()


@dataclass(frozen=True)
class DemoParameters:
    """True parameters of the synthetic demo shop.

    Time is in days, money in EUR, probabilities and shares are fractions (not percent).

    Attributes
    ----------
    r, alpha
        BG/NBD purchase-rate heterogeneity: ``lambda ~ Gamma(shape=r, rate=alpha)``, with
        ``alpha`` in days, so the mean rate is ``r / alpha`` purchases per day.
    a, b
        BG/NBD dropout heterogeneity: ``p ~ Beta(a, b)``, the probability of dropping out
        after each repeat purchase.
    p_spend, q, gamma
        Gamma-Gamma spend (lifetimes' ``p``, ``q``, ``v``): order value ``~ Gamma(p_spend, nu)``
        with ``nu ~ Gamma(q, gamma)`` per customer (shapes and rates), in EUR.
    channels, channel_mix, channel_dropout_tilt
        Acquisition channels, their shares, and how strongly each one attracts high-dropout
        customers: ``P(channel | u) = mix * (1 + tilt * (2u - 1))`` with ``u`` the quantile
        of the customer's dropout probability. Positive tilt = worse retention.
    countries, country_mix, country_rate_tilt
        Countries, their shares, and the same tilt on the quantile of the purchase rate.
        Positive tilt = customers who buy more often.
    return_share
        Share of purchases that get a later return line (negative amount, own order id).
    same_day_return_share
        Share of those returns made on the day of the purchase (always partial).
    full_return_share
        Share of the later (not same-day) returns that refund the whole order.
    partial_return_range
        Refunded fraction of the order value for partial returns (uniform between the two).
    max_return_delay_days
        Later returns happen 1 to this many days after the purchase (uniform); a return that
        would fall after the observation end has not happened yet and is not generated.
    survey_response_rate
        Share of purchases followed by a survey response (within ``max_response_delay_days``).
    satisfaction_signal
        Correlation between a response's latent satisfaction and the customer's (negated,
        normal-score) dropout probability: 0 = satisfaction unrelated to retention.
    score_coherence
        Share of latent variance that the three scores of one response have in common.
    csat_distribution, nps_distribution, ces_distribution
        Marginal distribution of CSAT (1-5), NPS (0-10) and CES (1-7, higher = easier).
    csat_missing, nps_missing, ces_missing
        Share of responses without that score (at least one score is always present).
    member_share
        Share of customers who take a membership subscription.
    plans, plan_mrr, plan_mix
        Membership plans, their monthly recurring revenue (EUR) and shares at sign-up.
    cancel_base, cancel_dropout_slope
        Monthly cancellation hazard ``cancel_base + cancel_dropout_slope * p``.
    upgrade_rate, downgrade_rate
        Monthly hazards of moving one plan up or down (where possible).
    cost_fixed, cost_per_customer, cost_noise
        Monthly retention cost ``(cost_fixed + cost_per_customer * S) * exp(N(0, cost_noise))``
        with ``S`` the customers with a purchase in the 365 days before the month starts.
    """

    r: float = 0.9
    alpha: float = 40.0
    a: float = 0.6
    b: float = 3.0
    p_spend: float = 4.0
    q: float = 5.0
    gamma: float = 60.0
    channels: tuple[str, ...] = ("organic", "paid_search", "social")
    channel_mix: tuple[float, ...] = (0.5, 0.3, 0.2)
    channel_dropout_tilt: tuple[float, ...] = (-0.5, 0.3, 0.8)
    countries: tuple[str, ...] = ("DE", "FR", "NL")
    country_mix: tuple[float, ...] = (0.5, 0.3, 0.2)
    country_rate_tilt: tuple[float, ...] = (0.2, -0.6, 0.4)
    return_share: float = 0.03
    same_day_return_share: float = 0.3
    full_return_share: float = 0.5
    partial_return_range: tuple[float, float] = (0.2, 0.8)
    max_return_delay_days: int = 28
    survey_response_rate: float = 0.12
    max_response_delay_days: float = 7.0
    satisfaction_signal: float = 0.7
    score_coherence: float = 0.8
    csat_distribution: tuple[float, ...] = (0.05, 0.08, 0.15, 0.37, 0.35)
    nps_distribution: tuple[float, ...] = (
        0.03, 0.02, 0.02, 0.03, 0.04, 0.05, 0.07, 0.12, 0.17, 0.22, 0.23,
    )  # fmt: skip
    ces_distribution: tuple[float, ...] = (0.04, 0.05, 0.08, 0.13, 0.22, 0.28, 0.20)
    csat_missing: float = 0.05
    nps_missing: float = 0.08
    ces_missing: float = 0.25
    member_share: float = 0.16
    plans: tuple[str, ...] = ("Basic", "Plus", "Premium")
    plan_mrr: tuple[float, ...] = (9.99, 19.99, 39.99)
    plan_mix: tuple[float, ...] = (0.55, 0.30, 0.15)
    cancel_base: float = 0.01
    cancel_dropout_slope: float = 0.15
    upgrade_rate: float = 0.03
    downgrade_rate: float = 0.015
    cost_fixed: float = 2500.0
    cost_per_customer: float = 1.2
    cost_noise: float = 0.05

    def __post_init__(self) -> None:
        problems = []
        for name in ("r", "alpha", "a", "b", "p_spend", "q", "gamma"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0 (got {getattr(self, name)})")
        if not self.q > 1:
            problems.append(f"q must be > 1 for the mean spend to exist (got {self.q})")
        for names, mix, tilt in (
            ("channels", self.channel_mix, self.channel_dropout_tilt),
            ("countries", self.country_mix, self.country_rate_tilt),
        ):
            labels = getattr(self, names)
            if not len(labels) == len(mix) == len(tilt):
                problems.append(f"{names}, their mix and their tilt must have the same length")
                continue
            if not np.isclose(sum(mix), 1.0):
                problems.append(f"the {names} mix must sum to 1 (got {sum(mix)})")
            if not np.isclose(np.dot(mix, tilt), 0.0):
                problems.append(
                    f"the {names} tilts weighted by the mix must sum to 0 so the mix is kept "
                    f"(got {np.dot(mix, tilt):.4f})"
                )
            if any(abs(t) > 1 for t in tilt):
                problems.append(f"every {names} tilt must lie in [-1, 1]")
        for name in ("csat_distribution", "nps_distribution", "ces_distribution", "plan_mix"):
            if not np.isclose(sum(getattr(self, name)), 1.0):
                problems.append(f"{name} must sum to 1")
        for name, size in (("csat_distribution", 5), ("nps_distribution", 11)):
            if len(getattr(self, name)) != size:
                problems.append(f"{name} must have {size} entries")
        if len(self.ces_distribution) != 7:
            problems.append("ces_distribution must have 7 entries")
        if not len(self.plans) == len(self.plan_mrr) == len(self.plan_mix):
            problems.append("plans, plan_mrr and plan_mix must have the same length")
        if not 0 <= self.satisfaction_signal <= 1 or not 0 <= self.score_coherence <= 1:
            problems.append("satisfaction_signal and score_coherence must lie in [0, 1]")
        if problems:
            raise ValueError("Invalid DemoParameters: " + "; ".join(problems) + ".")

    @property
    def mean_purchase_rate(self) -> float:
        """Population mean purchase rate while alive, ``r / alpha``, in purchases per day."""
        return self.r / self.alpha

    @property
    def mean_dropout(self) -> float:
        """Population mean dropout probability after a repeat purchase, ``a / (a + b)``."""
        return self.a / (self.a + self.b)

    @property
    def mean_order_value(self) -> float:
        """Population mean order value ``p_spend * gamma / (q - 1)``, in EUR."""
        return self.p_spend * self.gamma / (self.q - 1)

    def segment_truth(self) -> pd.DataFrame:
        """True mean dropout probability per channel and mean purchase rate per country.

        Computed exactly (by quadrature over the quantile tilt), not from a sample.

        Returns
        -------
        pandas.DataFrame
            Columns ``segment`` (``"channel"`` or ``"country"``), ``value``, ``share``
            (fraction of customers), ``mean_dropout`` (fraction, channels) and
            ``mean_purchase_rate`` (purchases per day, countries); NaN where not applicable.
        """

        def tilted_mean(quantile_fn, tilt: float) -> float:
            return integrate.quad(lambda u: quantile_fn(u) * (1 + tilt * (2 * u - 1)), 0, 1)[0]

        rows = []
        for value, share, tilt in zip(
            self.channels, self.channel_mix, self.channel_dropout_tilt, strict=True
        ):
            mean = tilted_mean(lambda u: special.betaincinv(self.a, self.b, u), tilt)
            rows.append(("channel", value, share, mean, np.nan))
        for value, share, tilt in zip(
            self.countries, self.country_mix, self.country_rate_tilt, strict=True
        ):
            mean = tilted_mean(lambda u: special.gammaincinv(self.r, u) / self.alpha, tilt)
            rows.append(("country", value, share, np.nan, mean))
        return pd.DataFrame(
            rows, columns=["segment", "value", "share", "mean_dropout", "mean_purchase_rate"]
        )


# --------------------------------------------------------------------------- helpers


def _params(params: DemoParameters | None) -> DemoParameters:
    return DemoParameters() if params is None else params


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams per table, so every table is reproducible on its own."""
    # Append new names at the end: spawned children depend only on their position.
    names = ("customers", "purchases", "returns", "surveys", "subscriptions", "costs", "large")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def _window(start: str, end: str) -> tuple[np.datetime64, float]:
    """Start instant (seconds) and length in days of ``[start, end + 1 day)``."""
    first = pd.Timestamp(start).normalize()
    last = pd.Timestamp(end).normalize()
    if last < first:
        raise ValueError(f"end ({end}) is before start ({start}).")
    days = (last - first).days + 1
    return np.datetime64(first.date(), "s"), float(days)


_STRING = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas 3's default ``str`` dtype
_CHUNK = 1 << 20  # rows per Arrow chunk when building large string columns


def _label_chunk(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(
        pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0"
    )
    return pc.binary_join_element_wise(prefix, text, "")


def _labels(prefix: str, numbers: np.ndarray, width: int) -> pd.api.extensions.ExtensionArray:
    """``prefix`` + zero-padded numbers as a pandas string array (vectorised via Arrow).

    Built in chunks so that large columns need little memory beyond the result.
    """
    chunks = [
        _label_chunk(prefix, numbers[i : i + _CHUNK], width)
        for i in range(0, max(len(numbers), 1), _CHUNK)
    ]
    return pd.array(pa.chunked_array(chunks, type=pa.string()), dtype=_STRING)


def _pick(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category index per row of an ``(n, k)`` matrix of probabilities."""
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return (draws >= cumulative).sum(axis=1)


def _tilted_choice(
    rng: np.random.Generator, quantile: np.ndarray, mix: tuple[float, ...], tilt: tuple[float, ...]
) -> np.ndarray:
    """Category index with ``P(k | u) = mix_k * (1 + tilt_k * (2u - 1))``."""
    probabilities = np.asarray(mix) * (1 + np.outer(2 * quantile - 1, np.asarray(tilt)))
    return _pick(rng, probabilities)


def _time_of_day(rng: np.random.Generator, size: int) -> np.ndarray:
    """Seconds since midnight drawn from the shop's hourly order profile."""
    hours = rng.choice(24, size=size, p=_HOURLY_PROFILE)
    return hours * 3600 + rng.integers(0, 3600, size=size)


def _stamp(origin: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    """Timestamps (``datetime64[us]``) from integer seconds after ``origin``."""
    return (origin + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")).astype(
        "datetime64[us]"
    )


def _scores(latent: np.ndarray, distribution: tuple[float, ...], low: int) -> np.ndarray:
    """Ordinal scores from standard-normal latent values with the given marginal distribution."""
    cuts = stats.norm.ppf(np.cumsum(distribution)[:-1])
    return low + np.searchsorted(cuts, latent)


def _category(values: tuple[str, ...], codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.array(np.asarray(values, dtype=object)[codes], dtype=_STRING)


# --------------------------------------------------------------------------- simulation


@dataclass
class _Simulation:
    customers: pd.DataFrame
    customer_index: np.ndarray  # per purchase, index into customers
    seconds: np.ndarray  # per purchase, seconds after the window start
    amount: np.ndarray  # per purchase, EUR
    origin: np.datetime64
    days: float


def _simulate(
    n_customers: int, start: str, end: str, seed: int, params: DemoParameters
) -> _Simulation:
    """Draw customers and their purchases (no returns) from the BG/NBD + Gamma-Gamma model."""
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1 (got {n_customers}).")
    rng = _streams(seed)
    origin, days = _window(start, end)
    cr = rng["customers"]
    n = n_customers
    # Quantiles first, then the exact marginal distributions, so segments can be tied to them.
    u_rate, u_dropout = cr.random(n), cr.random(n)
    rate = special.gammaincinv(params.r, u_rate) / params.alpha
    dropout = special.betaincinv(params.a, params.b, u_dropout)
    nu = cr.gamma(params.q, 1 / params.gamma, n)
    channel = _tilted_choice(cr, u_dropout, params.channel_mix, params.channel_dropout_tilt)
    country = _tilted_choice(cr, u_rate, params.country_mix, params.country_rate_tilt)
    acquired = cr.uniform(0, days, n)

    pr = rng["purchases"]
    exposure = days - acquired
    opportunities = pr.poisson(rate * exposure)  # repeat purchases if the customer never left
    # dropout after the k-th repeat purchase, k >= 1: no dropout at the first purchase
    repeats_before_dropout = pr.geometric(np.clip(dropout, 1e-12, 1.0))
    repeats = np.minimum(repeats_before_dropout, opportunities)
    alive = repeats_before_dropout > opportunities

    # Given N events of a Poisson process on [0, T], their times are N sorted uniforms; the
    # customer makes the first min(K, N) of them.
    owner = np.repeat(np.arange(n), opportunities)
    offsets = pr.random(owner.size) * exposure[owner]
    order = np.lexsort((offsets, owner))
    offsets = offsets[order]
    rank = np.arange(owner.size) - np.repeat(
        np.cumsum(opportunities) - opportunities, opportunities
    )
    made = rank < repeats[owner]
    customer_index = np.concatenate([np.arange(n), owner[made]])
    time_days = np.concatenate([acquired, acquired[owner[made]] + offsets[made]])
    # The calendar day comes from the process; the time of day from the shop's daily profile.
    day = np.floor(time_days).astype(np.int64)
    seconds = day * _SECONDS_PER_DAY + _time_of_day(pr, day.size)
    amount = np.maximum(np.round(pr.gamma(params.p_spend, 1 / nu[customer_index]), 2), 0.01)

    # Number customers in the order of their first purchase (C00001 came first).
    sort = np.lexsort((seconds, customer_index))
    first_seconds = seconds[sort][np.searchsorted(customer_index[sort], np.arange(n))]
    by_arrival = np.argsort(first_seconds, kind="stable")
    label = np.empty(n, dtype=np.int64)
    label[by_arrival] = np.arange(n)
    customer_index = label[customer_index]
    sort = np.lexsort((seconds, customer_index))
    customer_index, seconds, amount = customer_index[sort], seconds[sort], amount[sort]

    width = max(5, len(str(n)))
    customers = pd.DataFrame(
        {
            CUSTOMER: _labels("C", np.arange(1, n + 1), width),
            "acquired_at": _stamp(origin, first_seconds[by_arrival]),
            "channel": _category(params.channels, channel[by_arrival]),
            "country": _category(params.countries, country[by_arrival]),
            "purchase_rate": rate[by_arrival],
            "dropout_probability": dropout[by_arrival],
            "mean_order_value": params.p_spend / nu[by_arrival],
            "repeat_purchases": repeats[by_arrival],
            "repeats_before_dropout": repeats_before_dropout[by_arrival],
            "alive": alive[by_arrival],
        }
    )
    return _Simulation(customers, customer_index, seconds, amount, origin, days)


def _returns(
    sim: _Simulation, seed: int, params: DemoParameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return lines (customer index, seconds, negative amount) for a share of purchases."""
    rng = _streams(seed)["returns"]
    n = sim.seconds.size
    chosen = np.flatnonzero(rng.random(n) < params.return_share)
    same_day = rng.random(chosen.size) < params.same_day_return_share
    full = ~same_day & (rng.random(chosen.size) < params.full_return_share)
    low, high = params.partial_return_range
    fraction = np.where(full, 1.0, rng.uniform(low, high, chosen.size))
    bought = sim.seconds[chosen]
    # same day: some time after the purchase, before midnight; later: 1..max days, any time
    end_of_day = (bought // _SECONDS_PER_DAY + 1) * _SECONDS_PER_DAY
    later_day = bought // _SECONDS_PER_DAY + rng.integers(
        1, params.max_return_delay_days + 1, chosen.size
    )
    seconds = np.where(
        same_day,
        bought + np.ceil(rng.random(chosen.size) * (end_of_day - 1 - bought)).astype(np.int64),
        later_day * _SECONDS_PER_DAY + _time_of_day(rng, chosen.size),
    )
    amount = -np.where(full, sim.amount[chosen], np.round(fraction * sim.amount[chosen], 2))
    amount = np.minimum(amount, -0.01)
    happened = seconds < sim.days * _SECONDS_PER_DAY
    return sim.customer_index[chosen][happened], seconds[happened], amount[happened]


def _transactions(
    sim: _Simulation, seed: int, params: DemoParameters, returns: bool
) -> pd.DataFrame:
    index, seconds, amount = sim.customer_index, sim.seconds, sim.amount
    is_return = np.zeros(index.size, dtype=bool)
    if returns:
        r_index, r_seconds, r_amount = _returns(sim, seed, params)
        index = np.concatenate([index, r_index])
        seconds = np.concatenate([seconds, r_seconds])
        amount = np.concatenate([amount, r_amount])
        is_return = np.concatenate([is_return, np.ones(r_index.size, dtype=bool)])
    # chronological, like a shop export; order numbers follow that order
    order = np.lexsort((is_return, index, seconds))
    index, seconds, amount, is_return = (
        index[order],
        seconds[order],
        amount[order],
        is_return[order],
    )
    number = np.arange(100_001, 100_001 + index.size)
    order_id = np.where(
        is_return, _labels("R", number, 6).to_numpy(), _labels("O", number, 6).to_numpy()
    )
    customers = sim.customers
    return pd.DataFrame(
        {
            CUSTOMER: customers[CUSTOMER].array.take(index),
            ORDER_DATE: _stamp(sim.origin, seconds),
            AMOUNT: amount,
            ORDER: pd.array(order_id, dtype=_STRING),
            "channel": customers["channel"].array.take(index),
            "country": customers["country"].array.take(index),
        }
    )


# --------------------------------------------------------------------------- public API


def generate_customers(
    n_customers: int = DEMO_CUSTOMERS,
    *,
    start: str = DEMO_START,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
) -> pd.DataFrame:
    """The latent truth behind :func:`generate_transactions` (same arguments, same customers).

    Parameters
    ----------
    n_customers, start, end, seed, params
        As in :func:`generate_transactions`.

    Returns
    -------
    pandas.DataFrame
        One row per customer: ``customer_id``, ``acquired_at`` (first purchase),
        ``channel``, ``country``, ``purchase_rate`` (lambda, purchases per day while alive),
        ``dropout_probability`` (p, after each repeat purchase), ``mean_order_value``
        (``p_spend / nu``, EUR), ``repeat_purchases`` (made in the window),
        ``repeats_before_dropout`` (the repeat purchase after which the customer leaves,
        >= 1) and ``alive`` (still active at the end of the window).
    """
    return _simulate(n_customers, start, end, seed, _params(params)).customers


def generate_transactions(
    n_customers: int = DEMO_CUSTOMERS,
    *,
    start: str = DEMO_START,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
    returns: bool = True,
) -> pd.DataFrame:
    """A transaction log from the BG/NBD + Gamma-Gamma process, with some returns.

    Parameters
    ----------
    n_customers
        Customers acquired, uniformly over ``[start, end]``; each makes a first purchase at
        acquisition.
    start, end
        First and last day of the observation window (ISO dates, ``end`` inclusive).
    seed
        Seed of the random streams; equal seeds give equal data.
    params
        True parameters; :class:`DemoParameters` defaults when None.
    returns
        Add return lines (negative amounts with their own order id starting ``R``) for about
        ``params.return_share`` of the purchases. Same-day returns are partial, so netting a
        customer's day never removes a purchase day that has a same-day return.

    Returns
    -------
    pandas.DataFrame
        Chronological rows with ``customer_id`` (``"C00001"``, numbered in acquisition
        order), ``order_date`` (``datetime64[us]``, with a time of day), ``amount`` (EUR,
        2 decimals, negative for returns), ``order_id`` (``"O100001"``, returns ``"R..."``),
        ``channel`` and ``country``.

    Examples
    --------
    >>> tx = generate_transactions(100, seed=1)
    >>> list(tx.columns)
    ['customer_id', 'order_date', 'amount', 'order_id', 'channel', 'country']
    """
    p = _params(params)
    return _transactions(_simulate(n_customers, start, end, seed, p), seed, p, returns)


def _customer_rows(
    customers: pd.DataFrame, purchases: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """``customers`` indexed by ID, and the row of each purchase's customer in it."""
    who = customers.set_index(CUSTOMER)
    row = who.index.get_indexer(purchases[CUSTOMER])
    if (row < 0).any():
        raise ValueError("Some transactions belong to customers missing from `customers`.")
    return who, row


def generate_surveys(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
) -> pd.DataFrame:
    """Survey responses after some purchases, with scores that track dropout propensity.

    Each purchase (positive amount) is followed by a response with probability
    ``params.survey_response_rate``, uniformly within ``params.max_response_delay_days``
    (responses after ``end`` are not generated). A response's latent satisfaction is
    ``rho * s + sqrt(1 - rho^2) * noise`` with ``s`` the customer's normal-score dropout
    quantile, negated (low dropout = satisfied) and ``rho = params.satisfaction_signal``;
    CSAT, NPS and CES are cut from it with the configured marginal distributions.

    Parameters
    ----------
    customers
        :func:`generate_customers` output (``customer_id``, ``dropout_probability``,
        ``channel``, ``country``), generated with the same ``params``.
    transactions
        :func:`generate_transactions` output for those customers.
    end
        Last day of the observation window (ISO date, inclusive).
    seed, params
        As in :func:`generate_transactions`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``response_date`` (``datetime64[us]``), ``csat`` (1-5), ``nps``
        (0-10), ``ces`` (1-7, higher = easier), all nullable ``Int64`` with some missing
        values (at least one per row present), ``channel``, ``country``; chronological.
    """
    p = _params(params)
    rng = _streams(seed)["surveys"]
    purchases = transactions[transactions[AMOUNT] > 0]
    responds = rng.random(len(purchases)) < p.survey_response_rate
    purchases = purchases[responds]
    delay = (rng.random(len(purchases)) * p.max_response_delay_days * _SECONDS_PER_DAY).astype(
        np.int64
    )
    when = purchases[ORDER_DATE].to_numpy(dtype="datetime64[us]") + delay.astype("timedelta64[s]")
    limit = np.datetime64(pd.Timestamp(end).normalize() + pd.Timedelta(days=1), "us")
    keep = when < limit
    purchases, when = purchases[keep], when[keep]

    who, row = _customer_rows(customers, purchases)
    quantile = special.betainc(p.a, p.b, who["dropout_probability"].to_numpy())[row]
    s = -stats.norm.ppf(np.clip(quantile, 1e-12, 1 - 1e-12))
    n = len(purchases)
    rho, c = p.satisfaction_signal, p.score_coherence
    latent = rho * s + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    noise = rng.standard_normal((3, n))
    scores = {}
    for k, (name, distribution, low, missing) in enumerate(
        (
            ("csat", p.csat_distribution, 1, p.csat_missing),
            ("nps", p.nps_distribution, 0, p.nps_missing),
            ("ces", p.ces_distribution, 1, p.ces_missing),
        )
    ):
        value = _scores(np.sqrt(c) * latent + np.sqrt(1 - c) * noise[k], distribution, low)
        scores[name] = (value, rng.random(n) < missing)
    all_missing = scores["csat"][1] & scores["nps"][1] & scores["ces"][1]
    scores["nps"] = (scores["nps"][0], scores["nps"][1] & ~all_missing)

    frame = pd.DataFrame(
        {
            CUSTOMER: purchases[CUSTOMER].array,
            RESPONSE_DATE: when,
            **{name: _masked(value, gone) for name, (value, gone) in scores.items()},
            "channel": purchases["channel"].array,
            "country": purchases["country"].array,
        }
    )
    return frame.sort_values([RESPONSE_DATE, CUSTOMER], kind="stable").reset_index(drop=True)


def _masked(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(np.int64), missing.copy())


def generate_subscriptions(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
) -> pd.DataFrame:
    """Membership subscriptions: sign-ups, upgrades, downgrades and cancellations.

    About ``params.member_share`` of the customers sign up (more likely the lower their
    dropout probability), on the day of one of their purchases, to a plan drawn from
    ``params.plan_mix``. Each plan spell then lasts an exponential time with monthly hazards
    ``cancel_base + cancel_dropout_slope * p`` (cancel), ``upgrade_rate`` and
    ``downgrade_rate`` (where a higher or lower plan exists); a plan change ends the row and
    starts a new one on the same day with the new MRR. A month is 365.25 / 12 days.

    Parameters
    ----------
    customers, transactions
        :func:`generate_customers` and :func:`generate_transactions` output (same params).
    end
        Last day of the observation window (ISO date, inclusive); spells still running
        after it have an empty ``end_date`` (active).
    seed, params
        As in :func:`generate_transactions`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``start_date``, ``end_date`` (NaT = still active; dates without
        time, ``datetime64[us]``), ``mrr`` (EUR per month), ``plan``; sorted by customer and
        start date. A customer's rows never overlap.
    """
    p = _params(params)
    rng = _streams(seed)["subscriptions"]
    last_day = np.datetime64(pd.Timestamp(end).normalize().date(), "D")
    purchases = transactions[transactions[AMOUNT] > 0]
    who, row = _customer_rows(customers, purchases)
    dropout = who["dropout_probability"].to_numpy()
    # members sign up at a purchase, so only customers with one can join
    weight = (1 - dropout) ** 4 * (np.bincount(row, minlength=len(who)) > 0)
    n_members = min(round(p.member_share * len(who)), int((weight > 0).sum()))
    if n_members == 0:
        return pd.DataFrame(
            {
                CUSTOMER: pd.array([], dtype=_STRING),
                "start_date": np.array([], dtype="datetime64[us]"),
                "end_date": np.array([], dtype="datetime64[us]"),
                "mrr": np.array([], dtype=float),
                "plan": pd.array([], dtype=_STRING),
            }
        )
    members = np.sort(rng.choice(len(who), n_members, replace=False, p=weight / weight.sum()))

    # sign-up on the day of a random purchase of the member
    days = purchases[ORDER_DATE].to_numpy(dtype="datetime64[D]")
    order = np.lexsort((days, row))
    row, days = row[order], days[order]
    first = np.searchsorted(row, members)
    count = np.searchsorted(row, members, side="right") - first
    signup = days[first + (rng.random(n_members) * count).astype(np.int64)]

    month = 365.25 / 12
    cancel = p.cancel_base + p.cancel_dropout_slope * dropout[members]
    plan = rng.choice(len(p.plans), n_members, p=np.asarray(p.plan_mix))
    top = len(p.plans) - 1
    member, start = np.arange(n_members), signup
    spells: list[tuple[np.ndarray, ...]] = []
    while member.size:
        up = np.where(plan < top, p.upgrade_rate, 0.0)
        down = np.where(plan > 0, p.downgrade_rate, 0.0)
        total = cancel[member] + up + down
        length = np.maximum(np.ceil(rng.exponential(month / total)), 1).astype(np.int64)
        stop = start + length.astype("timedelta64[D]")
        ended = stop <= last_day
        event = _pick(rng, np.column_stack([cancel[member], up, down]))
        spells.append((member, start, np.where(ended, stop, np.datetime64("NaT", "D")), plan))
        moves = ended & (event > 0)
        member, start = member[moves], stop[moves]
        plan = plan[moves] + np.where(event[moves] == 1, 1, -1)

    member = np.concatenate([s[0] for s in spells])
    frame = pd.DataFrame(
        {
            CUSTOMER: who.index.array.take(members[member]),
            "start_date": np.concatenate([s[1] for s in spells]).astype("datetime64[us]"),
            "end_date": np.concatenate([s[2] for s in spells]).astype("datetime64[us]"),
            "mrr": np.asarray(p.plan_mrr)[np.concatenate([s[3] for s in spells])],
            "plan": _category(p.plans, np.concatenate([s[3] for s in spells])),
        }
    )
    return frame.sort_values([CUSTOMER, "start_date"], kind="stable").reset_index(drop=True)


def generate_costs(
    transactions: pd.DataFrame,
    *,
    start: str = DEMO_START,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
) -> pd.DataFrame:
    """Monthly retention spend that scales with the customer base.

    ``cost = (cost_fixed + cost_per_customer * S) * exp(N(0, cost_noise))`` with ``S`` the
    customers who bought in the 365 days before the month starts (the base of SPEC
    section 4).

    Parameters
    ----------
    transactions
        :func:`generate_transactions` output.
    start, end
        Observation window (ISO dates); one row per calendar month that starts in it.
    seed, params
        As in :func:`generate_transactions`.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (first day of the month, ``datetime64[us]``) and ``cost`` (EUR,
        2 decimals).
    """
    p = _params(params)
    rng = _streams(seed)["costs"]
    months = pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end), freq="MS")
    purchases = transactions[transactions[AMOUNT] > 0]
    day = purchases[ORDER_DATE].to_numpy(dtype="datetime64[D]")
    customer = pd.factorize(purchases[CUSTOMER])[0]
    base = np.array(
        [
            np.unique(customer[(day < m) & (day >= m - np.timedelta64(365, "D"))]).size
            for m in months.to_numpy(dtype="datetime64[D]")
        ]
    )
    noise = np.exp(rng.normal(0, p.cost_noise, base.size))
    cost = np.round((p.cost_fixed + p.cost_per_customer * base) * noise, 2)
    return pd.DataFrame({"period_start": months.as_unit("us"), "cost": cost})


def generate_demo(
    *,
    n_customers: int = DEMO_CUSTOMERS,
    start: str = DEMO_START,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
) -> dict[str, pd.DataFrame]:
    """All four demo tables, consistent with each other (the embedded ``data/sample/``).

    Parameters
    ----------
    n_customers, start, end, seed, params
        As in :func:`generate_transactions`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"transactions"``, ``"surveys"``, ``"subscriptions"``, ``"retention_costs"`` (the
        keys of :data:`DEMO_FILES`). The latent truth is :func:`generate_customers` with the
        same arguments.
    """
    p = _params(params)
    sim = _simulate(n_customers, start, end, seed, p)
    transactions = _transactions(sim, seed, p, returns=True)
    common = {"seed": seed, "params": p}
    return {
        "transactions": transactions,
        "surveys": generate_surveys(sim.customers, transactions, end=end, **common),
        "subscriptions": generate_subscriptions(sim.customers, transactions, end=end, **common),
        "retention_costs": generate_costs(transactions, start=start, end=end, **common),
    }


REVIEWS_FILE = "reviews_csat_only.csv"
REVIEWS_SEED = 7


def generate_csat_reviews(*, seed: int = REVIEWS_SEED) -> pd.DataFrame:
    """A CSAT-only survey export: product-review star ratings (1-5) by demo customers.

    Reviews follow about 6 % of the demo purchases by 1-14 days. A rating's latent
    satisfaction is ``0.5 * z + noise`` where ``z`` is the negated normal score of the
    customer's dropout quantile, cut to the marginal shares 7, 8, 15, 30, 40 % for 1-5 stars,
    so unhappy reviewers really churn more; 1 % of reviews have no rating. Columns
    (deliberately not canonical): ``customer_id``, ``review_date``, ``rating``, ``channel``.
    """
    rng = np.random.default_rng(seed)
    p = DemoParameters()
    tx = generate_transactions()
    customers = generate_customers()
    purchases = tx[tx[AMOUNT] > 0]
    purchases = purchases[rng.random(len(purchases)) < 0.06]
    offset = pd.to_timedelta(rng.integers(1, 15, len(purchases)), "D")
    day = purchases[ORDER_DATE].dt.normalize() + offset
    keep = day <= pd.Timestamp(DEMO_END)
    purchases, day = purchases[keep], day[keep]
    who = customers.set_index(CUSTOMER)
    row = who.index.get_indexer(purchases[CUSTOMER])
    quantile = special.betainc(p.a, p.b, who["dropout_probability"].to_numpy())[row]
    z = -stats.norm.ppf(np.clip(quantile, 1e-12, 1 - 1e-12))
    latent = 0.5 * z + np.sqrt(1 - 0.25) * rng.standard_normal(len(z))
    cuts = stats.norm.ppf(np.cumsum([0.07, 0.08, 0.15, 0.30, 0.40])[:-1])
    rating = pd.array(1 + np.searchsorted(cuts, latent), dtype="Int64")
    rating[rng.random(len(z)) < 0.01] = pd.NA
    out = pd.DataFrame(
        {
            CUSTOMER: purchases[CUSTOMER].to_numpy(),
            "review_date": day.to_numpy(),
            "rating": rating,
            "channel": purchases["channel"].to_numpy(),
        }
    )
    return out.sort_values(["review_date", CUSTOMER], kind="stable").reset_index(drop=True)


def format_csv(frame: pd.DataFrame) -> str:
    """CSV text of a demo table, as committed in ``data/sample/``.

    Money with 2 decimals, timestamps as ``YYYY-MM-DD HH:MM:SS``, columns whose times are all
    midnight as ``YYYY-MM-DD``, missing values empty, ``\\n`` line ends.
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            midnight = (column.dropna() == column.dropna().dt.normalize()).all()
            text = column.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
            out[name] = text.where(column.notna(), "")
    return out.to_csv(index=False, float_format="%.2f", lineterminator="\n")


def generate_transactions_large(
    n_rows: int,
    *,
    rows_per_customer: float = 5.0,
    start: str = DEMO_START,
    end: str = DEMO_END,
    seed: int = DEMO_SEED,
    params: DemoParameters | None = None,
) -> pd.DataFrame:
    """A large purchase log for benchmarks: exactly ``n_rows`` rows, quickly, no returns.

    A simpler process than the demo (not BG/NBD): each customer's number of purchases is
    ``1 + Poisson(lambda)`` with ``lambda ~ Gamma(r, mean rows_per_customer - 1)``; the first
    purchase is uniform over the window and the others uniform between it and the end;
    amounts are Gamma-Gamma as in the demo. All amounts are positive, so lifetimes'
    ``summary_data_from_transaction_data`` and the toolkit's ``rfm_summary`` must agree.
    Rows are grouped by customer (not chronological); the last customer may be cut short to
    hit ``n_rows`` exactly.

    Parameters
    ----------
    n_rows
        Rows to generate (>= 1). 10 million rows take a few seconds and under 1 GB.
    rows_per_customer
        Mean purchases per customer (>= 1).
    start, end
        Observation window (ISO dates, ``end`` inclusive).
    seed
        Seed of the random stream.
    params
        Uses ``r`` (purchase heterogeneity) and the Gamma-Gamma parameters.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (``"C0000001"``), ``order_date`` (``datetime64[us]``), ``amount``
        (EUR, 2 decimals, > 0), ``order_id`` (``"O000000001"``, unique).
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1 (got {n_rows}).")
    if rows_per_customer < 1:
        raise ValueError(f"rows_per_customer must be at least 1 (got {rows_per_customer}).")
    p = _params(params)
    rng = _streams(seed)["large"]
    origin, days = _window(start, end)
    counts = np.empty(0, dtype=np.int64)
    while counts.sum() < n_rows:  # one pass almost always; ~5% spare customers
        more = int((n_rows - counts.sum()) / rows_per_customer * 1.05) + 10
        rate = rng.gamma(p.r, (rows_per_customer - 1) / p.r, more)
        counts = np.concatenate([counts, 1 + rng.poisson(rate)])
    cumulative = np.cumsum(counts)
    n_customers = int(np.searchsorted(cumulative, n_rows) + 1)
    counts = counts[:n_customers]
    counts[-1] -= cumulative[n_customers - 1] - n_rows

    window = int(days * _SECONDS_PER_DAY)
    first = rng.integers(0, window, n_customers)
    owner = np.repeat(np.arange(n_customers, dtype=np.int32), counts)
    seconds = first[owner]
    offset = rng.random(n_rows)
    offset *= window - seconds
    offset[np.cumsum(counts) - counts] = 0.0  # the first purchase opens the customer
    seconds += offset.astype(np.int64)
    del offset
    nu = rng.gamma(p.q, 1 / p.gamma, n_customers)
    amount = rng.gamma(p.p_spend, 1.0, n_rows)
    amount /= nu[owner]
    amount = np.maximum(np.round(amount, 2), 0.01)
    width = max(7, len(str(n_customers)))
    ids = _label_chunk("C", np.arange(1, n_customers + 1), width)
    customer = pd.array(
        pa.chunked_array([ids.take(owner[i : i + _CHUNK]) for i in range(0, n_rows, _CHUNK)]),
        dtype=_STRING,
    )
    del owner
    return pd.DataFrame(
        {
            CUSTOMER: customer,
            ORDER_DATE: _stamp(origin, seconds),
            AMOUNT: amount,
            ORDER: _labels("O", np.arange(1, n_rows + 1), max(9, len(str(n_rows)))),
        },
        copy=False,
    )
