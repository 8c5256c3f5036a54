using System;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.Engine.Ssm;

/// <summary>
/// The SDKs' standard retry mode: 3 attempts in all, full-jitter exponential back-off with base 2, capped at 20 s.
/// Delay and randomness are injectable so tests never sleep.
/// </summary>
public sealed class SsmRetryPolicy
{
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(20);

    public int MaxAttempts { get; init; } = 3;

    public TimeSpan Cap { get; init; } = MaxBackoff;

    /// <summary>Waits between attempts; defaults to <see cref="Task.Delay(TimeSpan, CancellationToken)"/>.</summary>
    public Func<TimeSpan, CancellationToken, Task> Delay { get; init; } = (d, ct) => Task.Delay(d, ct);

    /// <summary>A number in [0, 1); defaults to a thread-safe shared random.</summary>
    public Func<double> Random { get; init; } = SharedRandom.NextDouble;

    /// <summary>Delay before retry number <paramref name="retry"/> (1 = the first retry): random(0..1) x 2^retry s, at most the cap.</summary>
    public TimeSpan ComputeDelay(int retry)
    {
        var ceiling = Math.Min(Cap.TotalSeconds, Math.Pow(2, retry));
        return TimeSpan.FromSeconds(Random() * ceiling);
    }

    public static SsmRetryPolicy NoDelay() => new() { Delay = (_, ct) => Task.CompletedTask };

    internal static class SharedRandom
    {
        private static readonly object Gate = new();
        private static readonly Random Rng = new();

        public static double NextDouble()
        {
            lock (Gate)
            {
                return Rng.NextDouble();
            }
        }
    }
}
