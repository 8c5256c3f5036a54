using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// Every SSM call of a fleet run goes through here: at most <see cref="FleetRunnerOptions.MaxParallelCalls"/> at once,
/// counted, and paced by the run's one throttle policy. A call that must succeed is tried again after a throttle with
/// full-jitter exponential back-off (the SDK itself never retries throttling, see <see cref="SsmClientOptions"/>); a poll
/// is made once, because the next poll is its retry.
/// </summary>
internal sealed class SsmCalls
{
    private static readonly object RandomGate = new();
    private static readonly Random Random = new();
    private readonly FleetRunnerOptions _o;
    private readonly CancellationToken _ct;
    private readonly SemaphoreSlim _gate;
    private int _count;
    private int _throttled;

    public SsmCalls(FleetRunnerOptions options, CancellationToken cancellationToken)
    {
        _o = options;
        _ct = cancellationToken;
        _gate = new SemaphoreSlim(Math.Max(1, options.MaxParallelCalls));
    }

    public int Count => Volatile.Read(ref _count);

    public int Throttled => Volatile.Read(ref _throttled);

    /// <summary>One attempt. <paramref name="wireToken"/> replaces the run's token for the call itself (a SendCommand on the wire is not abandoned).</summary>
    public async Task<TR> OnceAsync<TR>(Func<CancellationToken, Task<TR>> call, CancellationToken? wireToken = null)
    {
        await _gate.WaitAsync(_ct).ConfigureAwait(false);
        try
        {
            Interlocked.Increment(ref _count);
            return await call(wireToken ?? _ct).ConfigureAwait(false);
        }
        catch (SsmThrottledException)
        {
            Interlocked.Increment(ref _throttled);
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A call that must succeed: throttling is tried again, with back-off, up to <see cref="FleetRunnerOptions.ThrottleAttempts"/> attempts.</summary>
    public async Task<TR> MustAsync<TR>(Func<CancellationToken, Task<TR>> call, CancellationToken? wireToken = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            _ct.ThrowIfCancellationRequested();
            try
            {
                return await OnceAsync(call, wireToken).ConfigureAwait(false);
            }
            catch (SsmThrottledException) when (attempt < _o.ThrottleAttempts)
            {
                await _o.Delay(Backoff(attempt), _ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The pages of a listing, one call each. With <paramref name="must"/>, a throttled page is asked for again (with
    /// back-off, from the last page's token); without, the throttle ends the listing with an exception.
    /// </summary>
    public async IAsyncEnumerable<TPage> PagesAsync<TPage>(Func<string?, CancellationToken, IAsyncEnumerable<TPage>> listFrom, Func<TPage, string?> nextToken, bool must)
    {
        string? token = null;
        var attempt = 0;
        while (true)
        {
            var pages = listFrom(token, _ct).GetAsyncEnumerator(_ct);
            var finished = false;
            try
            {
                while (true)
                {
                    bool more;
                    await _gate.WaitAsync(_ct).ConfigureAwait(false);
                    try
                    {
                        Interlocked.Increment(ref _count);
                        more = await pages.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (SsmThrottledException) when (must && ++attempt < _o.ThrottleAttempts)
                    {
                        Interlocked.Increment(ref _throttled);
                        break;
                    }
                    catch (SsmThrottledException)
                    {
                        Interlocked.Increment(ref _throttled);
                        throw;
                    }
                    finally
                    {
                        _gate.Release();
                    }

                    if (!more)
                    {
                        finished = true;
                        break;
                    }

                    attempt = 0;
                    token = nextToken(pages.Current);
                    yield return pages.Current;
                    if (string.IsNullOrEmpty(token))
                    {
                        finished = true;
                        break;
                    }
                }
            }
            finally
            {
                await pages.DisposeAsync().ConfigureAwait(false);
            }

            if (finished)
            {
                yield break;
            }

            await _o.Delay(Backoff(attempt), _ct).ConfigureAwait(false);
        }
    }

    /// <summary>Full jitter: uniform in [0, min(cap, base x 2^attempt)].</summary>
    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_o.MaxThrottleBackoff.TotalMilliseconds, _o.ThrottleBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20)));
        double r;
        lock (RandomGate)
        {
            r = Random.NextDouble();
        }

        return TimeSpan.FromMilliseconds(r * ceiling);
    }
}
