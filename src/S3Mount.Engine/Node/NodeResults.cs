using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Node;

/// <summary>How a mount is doing.</summary>
public enum MountHealth
{
    Unknown,

    /// <summary>Mounted by mount-s3 and a stat of the path answers.</summary>
    Healthy,

    /// <summary>Nothing is mounted (the service is stopped, starting, or active without a mount).</summary>
    NotMounted,

    /// <summary>The path answers "Transport endpoint is not connected": the daemon died and left the FUSE mount.</summary>
    Stale,

    /// <summary>A stat of the path did not answer within the bound.</summary>
    Hung,

    /// <summary>The unit failed (start limit, exit code, signal) and nothing is mounted.</summary>
    Failed,
}

/// <summary>One mount service on one node, as listing finds it.</summary>
public sealed class MountService
{
    public string Name { get; internal set; } = string.Empty;
    public string UnitPath { get; internal set; } = string.Empty;
    public UnitOrigin Origin { get; internal set; }
    public MountSpec Spec { get; internal set; } = new();
    public string Bucket => Spec.Bucket;
    public string? Prefix => Spec.Prefix;
    public string Path => Spec.Path;
    public string User => Spec.User;
    public string? Group => Spec.Group;
    public MountOptions Options => Spec.Options;
    public string ActiveState { get; internal set; } = "unknown";
    public string SubState { get; internal set; } = "unknown";
    public string UnitFileState { get; internal set; } = "unknown";
    public string Result { get; internal set; } = string.Empty;
    public int Restarts { get; internal set; }
    public bool Enabled => UnitFileState is "enabled" or "enabled-runtime" or "alias" or "linked";
    public bool Mounted { get; internal set; }
    public MountHealth Health { get; internal set; }
    public string HealthReason { get; internal set; } = string.Empty;

    /// <summary>Seconds between the mount's health checks, as its unit records them; 0: none.</summary>
    public int HealthCheckIntervalSeconds => Spec.HealthCheckIntervalSeconds;

    /// <summary>
    /// The health check timer (<c>s3mount-health-&lt;id&gt;.timer</c>): active, inactive, failed, ... as systemd says;
    /// offline enabled or disabled; none when there is no timer.
    /// </summary>
    public string HealthCheckState { get; internal set; } = "none";

    public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

    /// <summary>The node's host name.</summary>
    public string? ComputerName { get; set; }

    /// <summary>The EC2 instance id when the node was reached through SSM; null locally.</summary>
    public string? InstanceId { get; set; }
}

/// <summary>What a create did.</summary>
public sealed class CreateResult
{
    public MountService Service { get; internal set; } = new();

    /// <summary>False when the same spec was already in place and running: nothing was written or restarted.</summary>
    public bool Changed { get; internal set; }

    /// <summary>True when a unit written by the field recipe for the same bucket and path was taken over under its name.</summary>
    public bool Adopted { get; internal set; }

    public IReadOnlyList<string> CreatedDirectories { get; internal set; } = Array.Empty<string>();
    public bool FuseConfChanged { get; internal set; }

    /// <summary>What the node noticed but did not refuse (an image without mount-s3 yet, ownership it could not set).</summary>
    public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();
}

/// <summary>A repair of one service: health before and after.</summary>
public sealed class RepairResult
{
    public string Name { get; internal set; } = string.Empty;
    public MountService Service { get; internal set; } = new();

    /// <summary>none (already healthy), repair, or skipped (Hung without -Force).</summary>
    public string Action { get; internal set; } = "none";
    public MountHealth Before { get; internal set; }
    public string BeforeReason { get; internal set; } = string.Empty;
    public MountHealth After { get; internal set; }
    public string AfterReason { get; internal set; } = string.Empty;
}

/// <summary>A removed service.</summary>
public sealed class RemoveResult
{
    public string Name { get; internal set; } = string.Empty;
    public string UnitPath { get; internal set; } = string.Empty;
    public MountSpec Spec { get; internal set; } = new();

    /// <summary>keep, removed, notempty or absent.</summary>
    public string Directory { get; internal set; } = "keep";
}

/// <summary>A failure that concerns one service of a node; the others went on.</summary>
public sealed class ServiceFailure
{
    public ServiceFailure(string name, S3MountException error)
    {
        Name = name;
        Error = error;
    }

    public string Name { get; }

    public S3MountException Error { get; }
}

/// <summary>What one node script run produced: items, per-service failures, warnings.</summary>
public sealed class NodeResult<T>
{
    public IReadOnlyList<T> Items { get; internal set; } = Array.Empty<T>();
    public IReadOnlyList<ServiceFailure> Failures { get; internal set; } = Array.Empty<ServiceFailure>();
    public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();
    public string? Host { get; internal set; }
}

/// <summary>How one mount of a map stands on a node.</summary>
public enum MountDrift
{
    /// <summary>S3Mount's unit is there exactly as mapped, enabled and (live) running.</summary>
    InSync,

    /// <summary>Nothing mounts the mapped path (or only a unit that is not in the map: see the detail).</summary>
    Missing,

    /// <summary>S3Mount's unit for the mapped bucket and path is there, but with other settings, or not enabled or running.</summary>
    Drifted,

    /// <summary>A unit S3Mount manages on the node that the map does not have.</summary>
    Extra,

    /// <summary>A unit that S3Mount did not write (the field recipe's, or hand-made) mounts the mapped path.</summary>
    Foreign,
}

/// <summary>One mapped mount or extra unit of a node, as the node's sync script found it and what it did.</summary>
public sealed class SyncItem
{
    /// <summary>The mount's position in the map (1-based), or 0 for an extra unit.</summary>
    public int Index { get; internal set; }

    /// <summary>The unit the item is about (an adopted or foreign unit keeps its own name).</summary>
    public string Name { get; internal set; } = string.Empty;

    public MountDrift State { get; internal set; }

    /// <summary>What the node planned: create, update, adopt, remove, keep or none.</summary>
    public string Plan { get; internal set; } = "none";

    /// <summary>The node's reasons (not running, not enabled, the path's other unit, ...).</summary>
    public string NodeDetail { get; internal set; } = string.Empty;

    /// <summary>The mapped mount (null for an extra unit).</summary>
    public MountSpec? Desired { get; internal set; }

    /// <summary>The unit as found (Drifted, Foreign and Extra), before any change.</summary>
    public MountService? Current { get; internal set; }

    /// <summary>The fields that differ, found to desired (Drifted and Foreign).</summary>
    public IReadOnlyList<MountSpecDifference> Differences { get; internal set; } = Array.Empty<MountSpecDifference>();

    /// <summary>True when the plan's change ran (apply mode).</summary>
    public bool Attempted { get; internal set; }

    /// <summary>True when something on the node was written or started for this item.</summary>
    public bool Changed { get; internal set; }

    /// <summary>True when this run started or restarted the service.</summary>
    public bool Restarted { get; internal set; }

    /// <summary>The failure of this item's change (rolled back on the node), or null.</summary>
    public S3MountException? Error { get; internal set; }

    public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

    /// <summary>Why the item is not in sync, in words: the differing fields, then the node's other reasons.</summary>
    public string Detail
    {
        get
        {
            var reasons = NodeDetail.Split(new[] { "; " }, StringSplitOptions.RemoveEmptyEntries).ToList();
            if (Differences.Count > 0)
            {
                // A foreign unit is first of all somebody else's: that leads, its differences follow.
                reasons.Remove("the unit differs");
                reasons.InsertRange(State == MountDrift.Foreign ? reasons.Count : 0, Differences.Select(d => d.ToString()));
            }
            else if (reasons.Remove("the unit differs"))
            {
                reasons.Insert(0, "the unit's text differs, not its settings (written by another S3Mount version, or edited)");
            }

            return string.Join("; ", reasons);
        }
    }
}

/// <summary>What one node's sync script found and did.</summary>
public sealed class SyncResult
{
    public IReadOnlyList<SyncItem> Items { get; internal set; } = Array.Empty<SyncItem>();
    public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();
    public string? Host { get; internal set; }
}

/// <summary>Turns a node script's <see cref="Scripts.ResultBlock"/> into result objects, or its error into an exception.</summary>
public static class NodeResultParser
{
    private static readonly Dictionary<string, S3MountErrorKind> Kinds = new(StringComparer.Ordinal)
    {
        ["S3MountNotRoot"] = S3MountErrorKind.PermissionDenied,
        ["S3MountNoSystemd"] = S3MountErrorKind.ResourceUnavailable,
        ["S3MountNotInstalled"] = S3MountErrorKind.NotInstalled,
        ["S3MountVersionInvalid"] = S3MountErrorKind.InvalidData,
        ["S3MountOptionUnsupported"] = S3MountErrorKind.NotImplemented,
        ["S3MountOptionUnknown"] = S3MountErrorKind.InvalidArgument,
        ["S3MountUserUnknown"] = S3MountErrorKind.ObjectNotFound,
        ["S3MountPathInUse"] = S3MountErrorKind.ResourceExists,
        ["S3MountServiceExists"] = S3MountErrorKind.ResourceExists,
        ["S3MountServiceNotFound"] = S3MountErrorKind.ObjectNotFound,
        ["S3MountStartFailed"] = S3MountErrorKind.DeviceError,
        ["S3MountEnableFailed"] = S3MountErrorKind.InvalidOperation,
        ["S3MountControlFailed"] = S3MountErrorKind.InvalidOperation,
        ["S3MountStillMounted"] = S3MountErrorKind.ResourceBusy,
        ["S3MountWriteFailed"] = S3MountErrorKind.WriteError,
        ["S3MountScriptFailed"] = S3MountErrorKind.InvalidResult,
        ["S3MountUnitInvalid"] = S3MountErrorKind.InvalidData,
        ["S3MountOsUnsupported"] = S3MountErrorKind.NotImplemented,
        ["S3MountArchitectureUnsupported"] = S3MountErrorKind.NotImplemented,
        ["S3MountSourceInvalid"] = S3MountErrorKind.InvalidArgument,
        ["S3MountSourceUnsupported"] = S3MountErrorKind.NotImplemented,
        ["S3MountDownloaderMissing"] = S3MountErrorKind.NotInstalled,
        ["S3MountDownloadFailed"] = S3MountErrorKind.ConnectionError,
        ["S3MountGpgMissing"] = S3MountErrorKind.NotInstalled,
        ["S3MountSignatureInvalid"] = S3MountErrorKind.SecurityError,
        ["S3MountPackageNotFound"] = S3MountErrorKind.ObjectNotFound,
        ["S3MountPackageInvalid"] = S3MountErrorKind.InvalidData,
        ["S3MountPackageVersionMismatch"] = S3MountErrorKind.InvalidData,
        ["S3MountVersionChangeRefused"] = S3MountErrorKind.ResourceExists,
        ["S3MountInstallWouldRemove"] = S3MountErrorKind.InvalidOperation,
        ["S3MountPackageManagerBusy"] = S3MountErrorKind.ResourceBusy,
        ["S3MountInstallFailed"] = S3MountErrorKind.InvalidOperation,
        [Errors.ErrorIds.NodeBusy] = S3MountErrorKind.ResourceBusy,
        [SsmErrorIds.S3MountResultMissing] = S3MountErrorKind.InvalidData,
        [SsmErrorIds.S3MountResultTruncated] = S3MountErrorKind.InvalidData,
        [SsmErrorIds.S3MountResultInvalid] = S3MountErrorKind.InvalidData,
        [SsmErrorIds.S3MountResultTooLarge] = S3MountErrorKind.InvalidData,
        ["S3MountThroughputNoImage"] = S3MountErrorKind.InvalidArgument,
        ["S3MountThroughputNotMounted"] = S3MountErrorKind.ResourceUnavailable,
        ["S3MountThroughputReadOnly"] = S3MountErrorKind.InvalidOperation,
        ["S3MountThroughputNoDelete"] = S3MountErrorKind.InvalidOperation,
        ["S3MountThroughputNoFiles"] = S3MountErrorKind.ObjectNotFound,
        ["S3MountThroughputNoSpace"] = S3MountErrorKind.ResourceUnavailable,
        ["S3MountThroughputFailed"] = S3MountErrorKind.WriteError,
        ["S3MountThroughputStopped"] = S3MountErrorKind.OperationStopped,
    };

    /// <summary>A node's error message is cut here: it is text from a machine that may not be trusted.</summary>
    public const int MaxMessageChars = 4000;

    private static readonly Regex ErrorIdWord = new("^[A-Za-z][A-Za-z0-9]{0,127}$", RegexOptions.CultureInvariant);

    /// <summary>Error ids that mean "this machine cannot be used" rather than "this service failed".</summary>
    public static bool IsEnvironmentError(string errorId) => errorId is "S3MountNotRoot" or "S3MountNoSystemd";

    /// <summary>The kind of a node-side error id.</summary>
    public static S3MountErrorKind KindOf(string errorId) => Kinds.TryGetValue(errorId, out var k) ? k : S3MountErrorKind.InvalidOperation;

    /// <summary>
    /// The script-level error of a block (its own id, kind and message, with the journal lines it carried), or null.
    /// The one reading of a script's failure, whichever transport brought the block.
    /// </summary>
    public static S3MountException? ErrorOf(Scripts.ResultBlock block, object? target)
    {
        var error = block.First("error");
        if (error is null)
        {
            return null;
        }

        if (!ErrorIdWord.IsMatch(error[0]))
        {
            // An id is a fixed word; anything else did not come from an S3Mount script.
            return new S3MountException(SsmErrorIds.S3MountResultInvalid, S3MountErrorKind.InvalidData,
                "The node reported an error whose id is not an error id (" + Bound(error[0], 80) + "); its result was not written by an S3Mount script as sent.", target);
        }

        var journal = block.All("journal").Select(r => r[0]).Take(50).ToList();
        var message = (error[1].Length > 0 ? error[1] : "The script failed with " + error[0] + ".")
            + (journal.Count > 0 ? Environment.NewLine + "Journal:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", journal) : string.Empty);
        return new S3MountException(error[0], KindOf(error[0]), Bound(message, MaxMessageChars), target);
    }

    /// <summary>
    /// Reads what a node's script run produced, as any transport brought it (untrusted input): a well-formed block of a
    /// successful run is returned for the operation's parser; everything else becomes one error with a stable id: the
    /// script's own (validated), a malformed or oversized result, a missing or cut-short one, or the exit code with the
    /// last line of standard error. <paramref name="truncatedHint"/> is said when the result was cut short.
    /// </summary>
    public static (Scripts.ResultBlock? Block, S3MountException? Error) ReadRun(bool succeeded, int exitCode, string stdout, string stderr, object? target, string? truncatedHint = null)
    {
        var reading = Scripts.ResultBlock.Read(stdout);
        switch (reading.Status)
        {
            case Scripts.ResultBlockStatus.TooLarge:
                return (null, new S3MountException(SsmErrorIds.S3MountResultTooLarge, S3MountErrorKind.InvalidData,
                    "The node's output was not read as a result: " + reading.Problem + ".", target));
            case Scripts.ResultBlockStatus.Invalid:
                return (null, new S3MountException(SsmErrorIds.S3MountResultInvalid, S3MountErrorKind.InvalidData,
                    "The node's result is not well-formed: " + reading.Problem + ". It was not written by an S3Mount script as sent.", target));
            case Scripts.ResultBlockStatus.Complete when ErrorOf(reading.Block!, target) is { } scriptError:
                return (null, scriptError);
            case Scripts.ResultBlockStatus.Complete when succeeded:
                return (reading.Block, null);
            case Scripts.ResultBlockStatus.Truncated:
                return (null, new S3MountException(SsmErrorIds.S3MountResultTruncated, S3MountErrorKind.InvalidData,
                    truncatedHint ?? "The node's result was cut short before its end line.", target));
        }

        if (exitCode == -1)
        {
            return (null, new S3MountException(SsmErrorIds.SsmCommandFailed, S3MountErrorKind.InvalidOperation, "The script never started on the node.", target));
        }

        if (!succeeded || exitCode != 0)
        {
            var last = stderr.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
            return (null, new S3MountException(SsmErrorIds.SsmCommandFailed, S3MountErrorKind.InvalidOperation,
                "The script exited with code " + exitCode.ToString(CultureInfo.InvariantCulture) + (last is null ? "." : ": " + Bound(last.Trim(), 500)), target));
        }

        return (null, new S3MountException(SsmErrorIds.S3MountResultMissing, S3MountErrorKind.InvalidData,
            "The node script printed no result." + (stderr.Length > 0 ? " Standard error: " + Bound(stderr.Trim(), 1500) : string.Empty), target));
    }

    private static string Bound(string text, int max) => text.Length <= max ? text : text.Substring(0, max) + "... (" + (text.Length - max).ToString(CultureInfo.InvariantCulture) + " more characters)";

    /// <summary>Throws the script-level error of a block, if it has one.</summary>
    public static void ThrowIfError(Scripts.ResultBlock block, object? target)
    {
        if (ErrorOf(block, target) is { } e)
        {
            throw e;
        }
    }

    /// <summary>Services, in the order listed, with state and health; failures for named services that were missing.</summary>
    public static NodeResult<MountService> Services(Scripts.ResultBlock block)
    {
        ThrowIfError(block, null);
        var host = block.First("host")?[0];
        var services = ReadServices(block, host, out var failures);
        failures.AddRange(Failures(block));
        return new NodeResult<MountService>
        {
            Items = services,
            Failures = failures,
            Warnings = block.All("warning").Select(r => r[0]).ToList(),
            Host = host,
        };
    }

    /// <summary>The result of a create.</summary>
    public static CreateResult Create(Scripts.ResultBlock block, object? target = null)
    {
        ThrowIfError(block, target);
        var result = block.First("result") ?? throw new S3MountException("S3MountResultMissing", S3MountErrorKind.InvalidData, "The create script reported no result.", target);
        var services = ReadServices(block, block.First("host")?[0], out _);
        return new CreateResult
        {
            Service = services.FirstOrDefault(s => s.Name == result[0]) ?? new MountService { Name = result[0] },
            Changed = result[1] == "1",
            Adopted = result[2] == "1",
            CreatedDirectories = block.All("created").Select(r => r[0]).ToList(),
            FuseConfChanged = block.First("fuseconf") is not null,
            Warnings = block.All("warning").Select(r => r[0]).ToList(),
        };
    }

    /// <summary>The repairs, one per selected service.</summary>
    public static NodeResult<RepairResult> Repairs(Scripts.ResultBlock block)
    {
        var services = Services(block);
        var byName = services.Items.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var items = block.All("repair").Select(r => new RepairResult
        {
            Name = r[0],
            Action = r[1],
            Before = ParseHealth(r[2]),
            BeforeReason = r[4],
            After = ParseHealth(r[5]),
            AfterReason = r[7],
            Service = byName.TryGetValue(r[0], out var s) ? s : new MountService { Name = r[0] },
        }).ToList();
        return new NodeResult<RepairResult> { Items = items, Failures = services.Failures, Warnings = services.Warnings, Host = services.Host };
    }

    /// <summary>The removals.</summary>
    public static NodeResult<RemoveResult> Removals(Scripts.ResultBlock block)
    {
        ThrowIfError(block, null);
        var host = block.First("host")?[0];
        var specs = ReadServices(block, host, out var parseFailures).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var items = block.All("removed").Select(r => new RemoveResult
        {
            Name = r[0],
            UnitPath = r[1],
            Directory = r[2],
            Spec = specs.TryGetValue(r[0], out var s) ? s.Spec : new MountSpec(),
        }).ToList();
        parseFailures.AddRange(Failures(block));
        return new NodeResult<RemoveResult> { Items = items, Failures = parseFailures, Warnings = block.All("warning").Select(r => r[0]).ToList(), Host = host };
    }

    /// <summary>
    /// A sync or plan: one item per mapped mount (in map order) and per extra unit, with what the node found, the field
    /// differences (parsed back from the unit lines it sent), and, when it applied the plan, what each change did.
    /// </summary>
    public static SyncResult Sync(Scripts.ResultBlock block, MountMap map)
    {
        ThrowIfError(block, null);
        var host = block.First("host")?[0];
        var services = ReadServices(block, host, out var parseFailures).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var sections = new Dictionary<string, (List<Scripts.ResultRecord> Records, List<string> Journal)>(StringComparer.Ordinal);
        var warnings = new List<string>();
        (List<Scripts.ResultRecord> Records, List<string> Journal)? current = null;
        var items = new List<SyncItem>();
        foreach (var r in block.Records)
        {
            switch (r.Tag)
            {
                case "begin":
                    current = sections[SectionKey(r[0], r[1])] = (new List<Scripts.ResultRecord>(), new List<string>());
                    break;
                case "journal" when current is not null:
                    current.Value.Journal.Add(r[0]);
                    break;
                case "warning" when current is null:
                    warnings.Add(r[0]);
                    break;
                case "result" or "removed" or "fail" or "warning" or "created" or "fuseconf" when current is not null:
                    current.Value.Records.Add(r);
                    break;
                case "sync":
                    items.Add(Item(r, map, services, sections));
                    break;
            }
        }

        warnings.AddRange(parseFailures.Select(f => f.Name + ": " + f.Error.Message));
        return new SyncResult { Items = items, Warnings = warnings, Host = host };
    }

    // A change's records follow "begin IDX" (a mapped mount) or "begin 0 NAME" (an extra unit).
    private static string SectionKey(string index, string name) => index == "0" ? "0/" + name : index;

    private static SyncItem Item(Scripts.ResultRecord r, MountMap map, Dictionary<string, MountService> services, Dictionary<string, (List<Scripts.ResultRecord> Records, List<string> Journal)> sections)
    {
        var index = int.TryParse(r[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : 0;
        var item = new SyncItem
        {
            Index = index,
            Name = r[1],
            State = Enum.TryParse<MountDrift>(r[2], ignoreCase: false, out var st) ? st : throw new S3MountException("S3MountResultInvalid", S3MountErrorKind.InvalidData, "The node reported an unknown state '" + r[2] + "'.", r[1]),
            Plan = r[3],
            NodeDetail = r[4],
            Desired = index >= 1 && index <= map.Mounts.Count ? map.Mounts[index - 1] : null,
            Current = services.TryGetValue(r[1], out var s) ? s : null,
        };
        if (item.Desired is not null && item.Current is not null && item.State is MountDrift.Drifted or MountDrift.Foreign)
        {
            item.Differences = MountSpecFields.Compare(item.Current.Spec, item.Desired);
        }

        if (sections.TryGetValue(SectionKey(r[0], r[1]), out var section))
        {
            item.Attempted = true;
            var result = section.Records.FirstOrDefault(x => x.Tag == "result");
            var fail = section.Records.FirstOrDefault(x => x.Tag == "fail");
            item.Warnings = section.Records.Where(x => x.Tag == "warning").Select(x => x[0]).ToList();
            if (fail is not null)
            {
                var message = fail[2] + (section.Journal.Count > 0 ? Environment.NewLine + "Journal:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", section.Journal) : string.Empty);
                item.Error = new S3MountException(fail[1], KindOf(fail[1]), message, r[1]);
            }
            else if (result is not null)
            {
                item.Changed = result[1] == "1";
                item.Restarted = result[3] == "1";
                if (result[0].Length > 0)
                {
                    item.Name = result[0];
                }
            }
            else if (section.Records.Any(x => x.Tag == "removed"))
            {
                item.Changed = true;
            }
            else
            {
                item.Error = new S3MountException("S3MountScriptFailed", S3MountErrorKind.InvalidResult, "The change of " + r[1] + " stopped without a result; see the node's standard error.", r[1]);
            }
        }

        return item;
    }

    private static IEnumerable<ServiceFailure> Failures(Scripts.ResultBlock block) =>
        block.All("fail").Select(r => new ServiceFailure(r[0], new S3MountException(r[1], KindOf(r[1]), r[2], r[0])));

    private static List<MountService> ReadServices(Scripts.ResultBlock block, string? host, out List<ServiceFailure> failures)
    {
        var failed = new List<ServiceFailure>();
        failures = failed;
        var list = new List<MountService>();
        var states = block.All("state").GroupBy(r => r[0]).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var health = block.All("health").GroupBy(r => r[0]).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        string? name = null;
        string? path = null;
        var lines = new List<string>();
        void Flush()
        {
            if (name is null)
            {
                return;
            }

            try
            {
                var parsed = UnitParser.Parse(UnitText(lines), name);
                var s = new MountService
                {
                    Name = name,
                    UnitPath = (path ?? string.Empty).TrimEnd('/') + "/" + name,
                    Origin = parsed.Origin,
                    Spec = parsed.Spec,
                    Warnings = parsed.Warnings,
                    ComputerName = host,
                };
                if (states.TryGetValue(name, out var st))
                {
                    s.ActiveState = st[1];
                    s.SubState = st[2];
                    s.UnitFileState = st[3];
                    s.Result = st[4];
                    s.Restarts = int.TryParse(st[5], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
                    s.HealthCheckState = st[6].Length > 0 ? st[6] : "none";
                    s.Warnings = s.Warnings.Concat(HealthCheckWarnings(s)).ToList();
                }

                if (health.TryGetValue(name, out var h))
                {
                    s.Health = ParseHealth(h[1]);
                    s.Mounted = h[2] == "1";
                    // Only an offline image reports no reason (the record stays small: SSM returns 2,500 characters a node).
                    s.HealthReason = h[3].Length > 0 ? h[3] : "an offline image: nothing runs there until it boots";
                }

                list.Add(s);
            }
            catch (S3MountException e)
            {
                failed.Add(new ServiceFailure(name, e));
            }

            name = null;
            lines.Clear();
        }

        foreach (var r in block.Records)
        {
            if (r.Tag == "unit")
            {
                Flush();
                name = r[0];
                path = r[1];
            }
            else if (r.Tag == "line" && name is not null)
            {
                lines.Add(r[0]);
            }
        }

        Flush();
        return list;
    }

    // The unit says how often its mount is checked; the timer must agree (it is written, removed and started with it).
    private static IEnumerable<string> HealthCheckWarnings(MountService s)
    {
        var timer = HealthUnits.NameFor(s.Name) + ".timer";
        var every = s.HealthCheckIntervalSeconds;
        if (every > 0 && s.HealthCheckState == "none")
        {
            yield return $"The unit asks for a health check every {every} s, but {timer} is missing: New-S3MountService -Force writes it again.";
        }
        else if (every > 0 && s.HealthCheckState is not ("active" or "enabled" or "activating" or "reloading") && s.ActiveState == "active")
        {
            yield return $"The health check timer {timer} is {s.HealthCheckState}, so nothing watches this mount: systemctl start {timer} (or New-S3MountService -Force).";
        }
        else if (every == 0 && s.HealthCheckState != "none")
        {
            yield return $"{timer} is there, but the unit asks for no health check: it was left by hand or by another tool.";
        }
    }

    // The node ships key lines without section headers; put each key back in its section.
    private static string UnitText(List<string> lines)
    {
        var unit = lines.Where(IsUnitKey);
        var service = lines.Where(l => !IsUnitKey(l));
        return "[Unit]\n" + string.Join("\n", unit) + "\n[Service]\n" + string.Join("\n", service) + "\n";
    }

    private static bool IsUnitKey(string line) =>
        line.StartsWith("X-", StringComparison.Ordinal) || line.StartsWith("After=", StringComparison.Ordinal) ||
        line.StartsWith("Assert", StringComparison.Ordinal) || line.StartsWith("Description=", StringComparison.Ordinal);

    private static MountHealth ParseHealth(string text) =>
        Enum.TryParse<MountHealth>(text, ignoreCase: false, out var h) ? h : MountHealth.Unknown;
}
