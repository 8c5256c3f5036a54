using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>
/// Measures the throughput of mounts on this machine or a fleet: writes files through the mount, reads them back,
/// checks them, deletes them; or reads existing files (-ReadPrefix). One object per node and mount, slowest first.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "S3MountThroughput", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountThroughput))]
public sealed class MeasureS3MountThroughputCommand : ServiceCmdlet<NodeResult<ThroughputResult>>
{
    /// <summary>How long after the commands are sent a fleet starts measuring, at least, so that every node starts together.</summary>
    private static readonly TimeSpan FleetStartDelay = TimeSpan.FromSeconds(5);

    private readonly List<S3MountThroughput> _results = new();
    private int _fleetNodes;
    private long? _startAt;

    /// <summary>How many files to write and read back (with -ReadPrefix: at most how many existing files to read).</summary>
    [Parameter]
    [ValidateRange(1, ThroughputRequest.MaxFiles)]
    public int FileCount { get; set; } = 8;

    /// <summary>The size of each file in bytes (64MB, 1GB, ...).</summary>
    [Parameter]
    [ValidateRange(ThroughputRequest.MinFileSize, ThroughputRequest.MaxFileSize)]
    public long FileSize { get; set; } = 64L * 1024 * 1024;

    /// <summary>How many files are written, and read, at once on each node.</summary>
    [Parameter]
    [ValidateRange(1, ThroughputRequest.MaxParallelism)]
    [Alias("ThreadCount")]
    public int Parallelism { get; set; } = 4;

    /// <summary>The longest a measurement may take on a node; what was done by then is reported.</summary>
    [Parameter]
    [ValidateRange(10, 86400)]
    public int TimeLimitSeconds { get; set; } = 600;

    /// <summary>Read existing files in this directory of the mount (relative to its root) instead of writing any.</summary>
    [Parameter]
    public string? ReadPrefix { get; set; }

    protected override string Activity => "Measure-S3MountThroughput";

    protected override string? Action => ReadPrefix is null
        ? $"Write {FileCount} test files of {Size(FileSize)} in a directory of their own, read them back and delete them"
        : null;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();

        // All nodes at once (SSM starts 50 at a time by default), and an execution timeout that fits the time limit.
        if (!OnCommandLine(nameof(MaxConcurrency)))
        {
            MaxConcurrency = "100%";
        }

        if (!OnCommandLine(nameof(ExecutionTimeoutSeconds)))
        {
            ExecutionTimeoutSeconds = TimeLimitSeconds + 300;
        }
    }

    protected override void ProcessRecord()
    {
        // How many nodes the fleet start must wait for (an estimate: the ids this record names).
        if (IsFleet && !IsTargets)
        {
            _fleetNodes += OnCommandLine(nameof(InstanceId)) ? Math.Max(1, InstanceId?.Length ?? 0) : 1;
        }

        base.ProcessRecord();
    }

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root) =>
        root is not null
            ? throw new S3MountException("S3MountThroughputNoImage", S3MountErrorKind.InvalidArgument,
                $"A throughput check measures live mounts; the services of the image {root} cannot be measured.", root)
            : Throughput.Script(new ThroughputRequest
        {
            FileCount = FileCount,
            FileSize = FileSize,
            Parallelism = Parallelism,
            TimeLimitSeconds = TimeLimitSeconds,
            ReadPrefix = ReadPrefix,
            StartAt = _startAt,
        }, names, paths);

    protected override NodeResult<ThroughputResult> Parse(ResultBlock block) => Throughput.Parse(block);

    protected override void Write(NodeResult<ThroughputResult> result, string? instanceId, string? root, Selection selection)
    {
        var prefix = instanceId is null ? string.Empty : instanceId + ": ";
        WriteWarnings(result.Warnings, instanceId);
        foreach (var r in result.Items)
        {
            var o = S3MountThroughput.From(r, instanceId, result.Host, CurrentCommandId);
            _results.Add(o);
            if (r.Verified == false)
            {
                Fail(new S3MountException("S3MountThroughputMismatch", S3MountErrorKind.InvalidResult,
                    $"{prefix}{r.Path}: data read back through the mount differs from what was written: {string.Join("; ", r.Errors)}", o), o);
            }
            else if (r.ErrorCount > 0 || r.TimedOut)
            {
                WriteWarning($"{prefix}{r.Path}: " + (r.TimedOut ? $"the time limit of {TimeLimitSeconds} s ended the run early; " : string.Empty) +
                    (r.ErrorCount > 0 ? $"{r.ErrorCount} error(s): {string.Join("; ", r.Errors.Take(3))}" : "the figures cover what was done by then."));
            }
        }

        WriteFailures(result.Failures, instanceId);
    }

    protected override void EndProcessing()
    {
        // A fleet starts at an agreed second a little after the commands go out: 5 s, and 1 s per 50 nodes beyond 50.
        var batches = IsTargets ? 10 : (_fleetNodes + 49) / 50;
        _startAt = (DateTimeOffset.UtcNow + FleetStartDelay + TimeSpan.FromSeconds(Math.Max(0, batches - 1))).ToUnixTimeSeconds();
        base.EndProcessing();

        // Slowest first, per path; the bar compares each node with the fastest of its path.
        foreach (var r in S3MountThroughput.Ranked(_results))
        {
            WriteObject(r);
        }
    }

    private static string Size(long bytes) =>
        bytes % (1024L * 1024 * 1024) == 0 ? (bytes / (1024L * 1024 * 1024)).ToString(CultureInfo.InvariantCulture) + " GiB"
        : bytes % (1024L * 1024) == 0 ? (bytes / (1024L * 1024)).ToString(CultureInfo.InvariantCulture) + " MiB"
        : bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes";
}
