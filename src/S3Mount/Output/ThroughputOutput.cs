using System;
using System.Collections.Generic;
using System.Linq;
using S3Mount.Engine.Node;

namespace S3Mount;

/// <summary>
/// What Measure-S3MountThroughput measured on one mount of one node: write and read rates in MB/s (10^6 bytes, as dd
/// counts them), the time to the first byte, whether the data read back was the data written, and the errors.
/// <see cref="Bar"/> and <see cref="Relative"/> compare the node with the fastest of the same run and path.
/// </summary>
public sealed class S3MountThroughput
{
    /// <summary>The width of <see cref="Bar"/> for the fastest node.</summary>
    public const int BarWidth = 20;

    /// <summary>Where it was measured: the instance id, or the host name on this machine.</summary>
    public string Node => InstanceId ?? ComputerName ?? string.Empty;

    public string? InstanceId { get; set; }
    public string? ComputerName { get; set; }

    /// <summary>The SSM command that reached the node (fleet results only).</summary>
    public string? CommandId { get; set; }

    public string Name { get; set; } = string.Empty;
    public string Bucket { get; set; } = string.Empty;
    public string? Prefix { get; set; }
    public string Path { get; set; } = string.Empty;

    /// <summary>ReadWrite (files written, read back, deleted) or Read (existing files under -ReadPrefix).</summary>
    public string Mode { get; set; } = string.Empty;

    public int Files { get; set; }
    public long FileSize { get; set; }
    public int Parallelism { get; set; }
    public double? WriteMBps { get; set; }
    public double? ReadMBps { get; set; }

    /// <summary>The median time to the first byte of a file (open, read one byte), in milliseconds.</summary>
    public double? FirstByteMs { get; set; }

    public double? FirstByteMaxMs { get; set; }
    public long WrittenBytes { get; set; }
    public double WriteSeconds { get; set; }
    public long ReadBytes { get; set; }
    public double ReadSeconds { get; set; }

    /// <summary>True when every file was read back equal to what was written; null when nothing was compared.</summary>
    public bool? Verified { get; set; }

    public bool CachesDropped { get; set; }
    public bool TimedOut { get; set; }
    public long StartLateMs { get; set; }
    public string? TestDirectory { get; set; }
    public string[] Errors { get; set; } = Array.Empty<string>();
    public int ErrorCount { get; set; }

    /// <summary>The figure nodes are ranked by: the lower of write and read (read alone for -ReadPrefix).</summary>
    public double? Score { get; set; }

    /// <summary>The score against the fastest node of the same path in this run (1 for the fastest).</summary>
    public double? Relative { get; set; }

    /// <summary>A bar of <see cref="BarWidth"/> characters for the fastest node, shorter for the others.</summary>
    public string Bar { get; set; } = string.Empty;

    internal static S3MountThroughput From(ThroughputResult r, string? instanceId, string? host, string? commandId) => new()
    {
        InstanceId = instanceId,
        ComputerName = host,
        CommandId = commandId,
        Name = r.Name,
        Bucket = r.Service.Bucket,
        Prefix = r.Service.Prefix,
        Path = r.Path,
        Mode = r.Wrote ? "ReadWrite" : "Read",
        Files = r.Files,
        FileSize = r.FileSize,
        Parallelism = r.Parallelism,
        WriteMBps = Round(r.WriteMBps),
        ReadMBps = Round(r.ReadMBps),
        FirstByteMs = Round(r.FirstByteMs),
        FirstByteMaxMs = Round(r.FirstByteMaxMs),
        WrittenBytes = r.WrittenBytes,
        WriteSeconds = Math.Round(r.WriteSeconds, 3),
        ReadBytes = r.ReadBytes,
        ReadSeconds = Math.Round(r.ReadSeconds, 3),
        Verified = r.Verified,
        CachesDropped = r.CachesDropped,
        TimedOut = r.TimedOut,
        StartLateMs = r.StartLateMs,
        TestDirectory = r.TestDirectory,
        Errors = r.Errors.ToArray(),
        ErrorCount = r.ErrorCount,
        Score = Round(Throughput.Score(r)),
    };

    /// <summary>
    /// The results as they are written: by path, slowest first within a path (those that measured nothing before all),
    /// each with its bar against the fastest of its path.
    /// </summary>
    internal static IEnumerable<S3MountThroughput> Ranked(IEnumerable<S3MountThroughput> results)
    {
        foreach (var group in results.GroupBy(r => r.Path, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var fastest = group.Max(r => r.Score);
            foreach (var r in group.OrderBy(r => r.Score ?? -1).ThenBy(r => r.Node, StringComparer.Ordinal))
            {
                r.Rank(fastest);
                yield return r;
            }
        }
    }

    /// <summary>Sets <see cref="Relative"/> and <see cref="Bar"/> against <paramref name="fastest"/>.</summary>
    private void Rank(double? fastest)
    {
        Relative = Score is { } s && fastest is > 0 ? Math.Round(s / fastest.Value, 3) : null;
        var filled = Relative is { } rel ? Math.Max(Score > 0 ? 1 : 0, (int)Math.Round(rel * BarWidth)) : 0;
        Bar = new string('\u2588', filled) + new string('\u2591', BarWidth - filled);
    }

    private static double? Round(double? v) => v is { } x ? Math.Round(x, 1) : null;

    public override string ToString() => Node + " " + Path + ": write " + (WriteMBps?.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) ?? "-") +
        " MB/s, read " + (ReadMBps?.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) ?? "-") + " MB/s";
}
