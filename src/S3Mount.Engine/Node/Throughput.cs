using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Node;

/// <summary>What a throughput check does on each selected mount (Measure-S3MountThroughput).</summary>
public sealed class ThroughputRequest
{
    public const int MaxFiles = 10000;
    public const long MinFileSize = 4096;
    public const long MaxFileSize = 5L * 1024 * 1024 * 1024;
    public const int MaxParallelism = 256;

    /// <summary>How many files to write and read (with <see cref="ReadPrefix"/>: at most how many existing files to read).</summary>
    public int FileCount { get; set; } = 8;

    /// <summary>The size of each file written, in bytes.</summary>
    public long FileSize { get; set; } = 64L * 1024 * 1024;

    /// <summary>How many files are written, and read, at once.</summary>
    public int Parallelism { get; set; } = 4;

    /// <summary>Every phase stops this long after the measurement starts; what was done by then is reported.</summary>
    public int TimeLimitSeconds { get; set; } = 600;

    /// <summary>Read existing files in this directory of the mount (relative to its root) instead of writing any.</summary>
    public string? ReadPrefix { get; set; }

    /// <summary>When the nodes start measuring (Unix seconds), so a fleet starts together; null starts at once.</summary>
    public long? StartAt { get; set; }

    /// <summary>Throws <c>S3MountOptionInvalid</c> for a value out of range, before anything runs.</summary>
    public void Validate()
    {
        Range(nameof(FileCount), FileCount, 1, MaxFiles);
        if (FileSize < MinFileSize || FileSize > MaxFileSize)
        {
            throw Invalid(nameof(FileSize), FileSize, $"-FileSize {FileSize} is out of range: give 4KB to 5GB (for example 64MB).");
        }

        Range(nameof(Parallelism), Parallelism, 1, MaxParallelism);
        Range("TimeLimitSeconds", TimeLimitSeconds, 10, 86400);
        if (ReadPrefix is not null)
        {
            NormalizedPrefix();
        }
    }

    /// <summary>The read prefix as the script takes it: relative, single slashes, no trailing slash; empty for none.</summary>
    internal string NormalizedPrefix()
    {
        if (string.IsNullOrEmpty(ReadPrefix))
        {
            return string.Empty;
        }

        TextRules.EnsureNoControl(ReadPrefix, "-ReadPrefix");
        var segments = ReadPrefix!.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries);
        if (ReadPrefix.StartsWith("/", StringComparison.Ordinal) || segments.Length == 0 || segments.Any(s => s == "." || s == ".."))
        {
            throw Invalid("ReadPrefix", ReadPrefix, $"-ReadPrefix '{ReadPrefix}' must be a directory inside the mount, relative to its root, such as datasets/ref/ (no leading /, no . or ..).");
        }

        return string.Join("/", segments);
    }

    private static void Range(string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            throw Invalid(name, value, $"-{name} {value} is out of range ({min} to {max}).");
        }
    }

    private static S3MountException Invalid(string name, object value, string message) =>
        new(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument, message, value);
}

/// <summary>What a throughput check measured on one mount of one node.</summary>
public sealed class ThroughputResult
{
    public string Name { get; internal set; } = string.Empty;
    public string Path { get; internal set; } = string.Empty;

    /// <summary>The service that was measured, as listing finds it (bucket, prefix, options).</summary>
    public MountService Service { get; internal set; } = new();

    /// <summary>True when files were written and read back; false when existing files were read (-ReadPrefix).</summary>
    public bool Wrote { get; internal set; }

    public int Files { get; internal set; }

    /// <summary>The size of each file written; 0 when existing files were read.</summary>
    public long FileSize { get; internal set; }

    public int Parallelism { get; internal set; }
    public long WrittenBytes { get; internal set; }
    public double WriteSeconds { get; internal set; }
    public long ReadBytes { get; internal set; }
    public double ReadSeconds { get; internal set; }

    /// <summary>Megabytes (10^6 bytes, as dd counts them) per second written, or null when nothing was written.</summary>
    public double? WriteMBps => Wrote && WriteSeconds > 0 ? WrittenBytes / WriteSeconds / 1e6 : null;

    /// <summary>Megabytes (10^6 bytes) per second read.</summary>
    public double? ReadMBps => ReadSeconds > 0 && ReadBytes > 0 ? ReadBytes / ReadSeconds / 1e6 : null;

    /// <summary>The median time to the first byte of a file, in milliseconds (open, one byte read).</summary>
    public double? FirstByteMs { get; internal set; }

    public double? FirstByteMaxMs { get; internal set; }

    /// <summary>True when every file written was read back equal to what was written; null when nothing was compared.</summary>
    public bool? Verified { get; internal set; }

    /// <summary>True when the node's page cache was dropped before reading (root, and not a container that forbids it).</summary>
    public bool CachesDropped { get; internal set; }

    /// <summary>True when the time limit ended the run before every file was done.</summary>
    public bool TimedOut { get; internal set; }

    /// <summary>How late the node started after the agreed fleet start, in milliseconds (0: on time).</summary>
    public long StartLateMs { get; internal set; }

    /// <summary>The run's own directory under the mount (deleted again), such as s3mount-throughput-1b4e...</summary>
    public string? TestDirectory { get; internal set; }

    /// <summary>ns (GNU date) or cs (/proc/uptime: 10 ms resolution).</summary>
    public string Clock { get; internal set; } = "ns";

    /// <summary>The errors of this run (the first ten), and how many there were in all.</summary>
    public IReadOnlyList<string> Errors { get; internal set; } = Array.Empty<string>();

    public int ErrorCount { get; internal set; }
}

/// <summary>The throughput check's script and the reading of its result.</summary>
public static class Throughput
{
    /// <summary>One script for the selected mounts of a node (at least one name or path).</summary>
    public static NodeScript Script(ThroughputRequest request, IEnumerable<string>? names, IEnumerable<string>? paths)
    {
        request.Validate();
        return NodeScript.Compose("measure", new Dictionary<string, string>
        {
            ["ROOT"] = string.Empty,
            ["NAMES"] = NodeOperations.Names(names),
            ["PATHS"] = NodeOperations.Paths(paths),
            ["FILE_COUNT"] = request.FileCount.ToString(CultureInfo.InvariantCulture),
            ["FILE_BYTES"] = request.FileSize.ToString(CultureInfo.InvariantCulture),
            ["PARALLEL"] = request.Parallelism.ToString(CultureInfo.InvariantCulture),
            ["TIME_LIMIT"] = request.TimeLimitSeconds.ToString(CultureInfo.InvariantCulture),
            ["READ_PREFIX"] = request.NormalizedPrefix(),
            ["START_AT"] = (request.StartAt ?? 0).ToString(CultureInfo.InvariantCulture),
        }, requireSelection: true);
    }

    /// <summary>The measurements of a node, with per-mount failures (not mounted, read-only, no room, ...).</summary>
    public static NodeResult<ThroughputResult> Parse(ResultBlock block)
    {
        var services = NodeResultParser.Services(block);
        var byName = services.Items.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var errors = block.All("tputerr").GroupBy(r => r[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(r => r[1]).ToList(), StringComparer.Ordinal);
        var items = block.All("tput").Select(r => new ThroughputResult
        {
            Name = r[0],
            Path = r[1],
            Service = byName.TryGetValue(r[0], out var s) ? s : new MountService { Name = r[0] },
            Wrote = r[2] == "write",
            Files = Int(r[3]),
            FileSize = Long(r[4]),
            Parallelism = Int(r[5]),
            WrittenBytes = Long(r[6]),
            WriteSeconds = Long(r[7]) / 1e9,
            ReadBytes = Long(r[8]),
            ReadSeconds = Long(r[9]) / 1e9,
            FirstByteMs = r[10] == "-" ? null : Long(r[10]) / 1e6,
            FirstByteMaxMs = r[11] == "-" ? null : Long(r[11]) / 1e6,
            Verified = r[12] switch { "1" => true, "0" => false, _ => null },
            CachesDropped = r[13] == "1",
            Clock = r[14],
            TestDirectory = r[15].Length == 0 ? null : r[15],
            StartLateMs = Long(r[16]),
            TimedOut = r[17] == "1",
            ErrorCount = Int(r[18]),
            Errors = errors.TryGetValue(r[0], out var e) ? e : new List<string>(),
        }).ToList();
        return new NodeResult<ThroughputResult> { Items = items, Failures = services.Failures, Warnings = services.Warnings, Host = services.Host };
    }

    /// <summary>
    /// The figure a node is ranked by: the lower of its write and read rates (the read rate alone when nothing was
    /// written); null when it measured nothing.
    /// </summary>
    public static double? Score(ThroughputResult r) =>
        r.WriteMBps is { } w && r.ReadMBps is { } rd ? Math.Min(w, rd) : r.ReadMBps ?? r.WriteMBps;

    private static int Int(string s) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;

    private static long Long(string s) => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
}
