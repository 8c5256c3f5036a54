using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Node;

/// <summary>What to create, and how.</summary>
public sealed class CreateRequest
{
    public CreateRequest(MountSpec spec) => Spec = spec;

    public MountSpec Spec { get; }

    /// <summary>Replace a different existing spec (or adopt a recipe unit); the mount restarts.</summary>
    public bool Force { get; set; }

    public bool NoStart { get; set; }

    public bool NoEnable { get; set; }

    /// <summary>Keep the new unit when its start fails, instead of rolling back.</summary>
    public bool KeepOnFailure { get; set; }

    /// <summary>An offline image root (AMI or chroot build): write into it, start nothing.</summary>
    public string? Root { get; set; }

    /// <summary>How long to wait for the mount to answer after starting.</summary>
    public int WaitSeconds { get; set; } = 60;

    public string MountS3Path { get; set; } = UnitRenderer.DefaultMountS3Path;
}

/// <summary>What to converge a node to, and how far to go.</summary>
public sealed class SyncRequest
{
    public SyncRequest(MountMap map) => Map = map;

    public MountMap Map { get; }

    /// <summary>Carry the plan out; without it the node only plans (Compare, -WhatIf).</summary>
    public bool Apply { get; set; }

    /// <summary>Remove S3Mount's units that the map does not have.</summary>
    public bool Prune { get; set; }

    /// <summary>Take over units that S3Mount did not write (recipe or hand-made) for the map's bucket and path.</summary>
    public bool Adopt { get; set; }

    /// <summary>An offline image root: write into it, start nothing.</summary>
    public string? Root { get; set; }

    /// <summary>How long to wait for each changed mount to answer.</summary>
    public int WaitSeconds { get; set; } = 60;

    public string MountS3Path { get; set; } = UnitRenderer.DefaultMountS3Path;
}

/// <summary>A service action that needs no other input.</summary>
public enum ServiceAction
{
    Start,
    Stop,
    Restart,
    Enable,
    Disable,
}

/// <summary>
/// Renders each node operation into one POSIX sh script. Input is validated here, before anything can be written:
/// bad input throws and no script exists to run.
/// </summary>
public static class NodeOperations
{
    /// <summary>Create (or adopt, or with Force replace) one mount service.</summary>
    public static NodeScript Create(CreateRequest request)
    {
        var spec = request.Spec;
        SpecValidator.EnsureValid(spec);
        var root = NormalizeRoot(request.Root);
        var p = new Dictionary<string, string> { ["ROOT"] = root };
        foreach (var kv in MountParameters(spec, request.MountS3Path))
        {
            p[kv.Key] = kv.Value;
        }

        p["MOUNTS3"] = request.MountS3Path;
        p["FORCE"] = Flag(request.Force);
        p["NO_START"] = Flag(request.NoStart);
        p["NO_ENABLE"] = Flag(request.NoEnable);
        p["KEEP_ON_FAILURE"] = Flag(request.KeepOnFailure);
        p["WAIT_SECONDS"] = Seconds(request.WaitSeconds);
        foreach (var kv in NodeParameters(spec.HealthCheckIntervalSeconds > 0))
        {
            p[kv.Key] = kv.Value;
        }

        return NodeScript.Compose("create", p);
    }

    /// <summary>
    /// Converge a node to a mount map in one script (or, without <see cref="SyncRequest.Apply"/>, only plan it there):
    /// every mapped mount travels with what create needs, so the node decides what is missing, drifted, foreign or
    /// extra and does all of it in one run.
    /// </summary>
    public static NodeScript Sync(SyncRequest request)
    {
        var p = new List<KeyValuePair<string, string>>
        {
            new("ROOT", NormalizeRoot(request.Root)),
            new("MODE", request.Apply ? "apply" : "plan"),
            new("PRUNE", Flag(request.Prune)),
            new("ADOPT", Flag(request.Adopt)),
            new("MOUNTS3", request.MountS3Path),
            new("WAIT_SECONDS", Seconds(request.WaitSeconds)),
            new("COUNT", request.Map.Mounts.Count.ToString(CultureInfo.InvariantCulture)),
        };
        for (var i = 0; i < request.Map.Mounts.Count; i++)
        {
            var spec = request.Map.Mounts[i];
            SpecValidator.EnsureValid(spec);
            var prefix = "M" + (i + 1).ToString(CultureInfo.InvariantCulture) + "_";
            p.AddRange(MountParameters(spec, request.MountS3Path).Select(kv => new KeyValuePair<string, string>(prefix + kv.Key, kv.Value)));
        }

        p.AddRange(NodeParameters(request.Map.Mounts.Any(m => m.HealthCheckIntervalSeconds > 0)));
        return NodeScript.Compose("sync", p);
    }

    /// <summary>
    /// What mount_create reads once for every mount of a run: the back-off drop-in's name and the systemd release that
    /// takes it, and the health check program (only when a mount of the run has a health check: it is large).
    /// </summary>
    private static IEnumerable<KeyValuePair<string, string>> NodeParameters(bool healthCheck) => new Dictionary<string, string>
    {
        ["BACKOFF_DROPIN_NAME"] = UnitRenderer.BackoffDropInName,
        ["RESTART_STEPS_SYSTEMD"] = UnitRenderer.RestartStepsSystemdVersion.ToString(CultureInfo.InvariantCulture),
        ["HEALTH_PROGRAM"] = HealthUnits.ProgramPath,
        [HealthProgramParameter] = healthCheck ? HealthProgramGz.Value : string.Empty,
    };

    /// <summary>What create.sh's mount_create reads about one mount (everything but how: force, start, enable, wait).</summary>
    private static IEnumerable<KeyValuePair<string, string>> MountParameters(MountSpec spec, string mountS3Path)
    {
        var o = spec.Options;
        var requirements = OptionCatalog.All
            .Where(d => d.IsSet(o) && d.RequiredVersion(o) > new MountpointVersion(1, 0, 0))
            .Select(d => d.RequiredVersion(o).Core + " --" + d.Name + (d.Arity == OptionArity.Flag ? string.Empty : " " + d.Format(o)![0]));
        var extras = spec.ExtraArguments.Select(a => a.Substring(2).Split('=')[0]);
        var needsAllowOther = (o.AllowOther || o.AllowRoot) && spec.User != "root" && spec.User != "0";
        return new Dictionary<string, string>
        {
            ["NAME"] = spec.UnitName,
            ["BUCKET"] = spec.Bucket,
            ["BUCKET_X"] = XValue.Encode(spec.Bucket),
            ["MPATH"] = spec.Path,
            ["MPATH_X"] = XValue.Encode(spec.Path),
            ["MPATH_MI"] = MountPath.ToMountInfo(spec.Path),
            ["SVC_USER"] = spec.User,
            ["SVC_GROUP"] = spec.Group ?? string.Empty,
            ["UNIT_B64"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(UnitRenderer.Render(spec, mountS3Path))),
            ["CACHE_DIR"] = o.CacheDirectory ?? string.Empty,
            ["NEEDS_ALLOW_OTHER"] = Flag(needsAllowOther),
            ["REQS"] = string.Join("\n", requirements),
            ["EXTRAS"] = string.Join(" ", extras),
            ["BACKOFF_DROPIN_B64"] = Base64(UnitRenderer.RenderBackoffDropIn(spec)),
            ["HEALTH_INTERVAL"] = spec.HealthCheckIntervalSeconds.ToString(CultureInfo.InvariantCulture),
            ["HEALTH_TIMER_B64"] = spec.HealthCheckIntervalSeconds == 0 ? string.Empty : Base64(HealthUnits.RenderTimer(spec)),
            ["HEALTH_SERVICE_B64"] = spec.HealthCheckIntervalSeconds == 0 ? string.Empty : Base64(HealthUnits.RenderService(spec)),
        };
    }

    /// <summary>
    /// The health check program create installs (<see cref="HealthUnits.ProgramPath"/>): lib.sh and health.sh composed
    /// like any node script, so its probe is the one Test-S3MountService runs, but compacted the way a bootstrap carries
    /// scripts (<see cref="ShellCompaction"/>: no comments, and none of lib.sh's functions the check never calls), so it
    /// travels in every create command and fits EC2 user data. Arguments: the health unit's name, the path.
    /// </summary>
    public static NodeScript HealthProgram() => HealthProgramScript.Value;

    /// <summary>
    /// The health check program's header and parameters (what precedes lib.sh and health.sh in it). A bootstrap carries
    /// only this and rebuilds the program on the node from the files its steps are made of.
    /// </summary>
    public static string HealthProgramPrologue { get; } = NodeScript.Compose("health", new Dictionary<string, string>
    {
        ["ROOT"] = string.Empty,
        ["PROBES"] = HealthUnits.Probes.ToString(CultureInfo.InvariantCulture),
        ["WAIT_SECONDS"] = "30",
    }).Prologue.Replace("#!/bin/sh\n", "#!/bin/sh\n# shellcheck disable=SC2034 # lib.sh sets globals the check does not read\n");

    /// <summary>The create parameter that carries the health check program (gzip, base64; empty without a health check).</summary>
    public const string HealthProgramParameter = "HEALTH_PROGRAM_GZ";

    private static readonly Lazy<NodeScript> HealthProgramScript = new(() =>
    {
        var check = ShellCompaction.Compact(NodeScript.Source("health"));
        var lib = ShellCompaction.WithoutUnusedFunctions(ShellCompaction.Compact(NodeScript.Source("lib")), new[] { check });
        return NodeScript.FromText("health", HealthProgramPrologue + lib + "\n" + check + "\n");
    });

    private static readonly Lazy<string> HealthProgramGz = new(() => GzipBase64(HealthProgram().Text));

    /// <summary>Gzip then base64 (one line): how create carries the health check program (mount_create: b64d | gzip -dc).</summary>
    public static string GzipBase64(string text)
    {
        using var buffer = new System.IO.MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            var bytes = new UTF8Encoding(false).GetBytes(text);
            gz.Write(bytes, 0, bytes.Length);
        }

        return Convert.ToBase64String(buffer.ToArray());
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>List every mount service (or the selected ones) with state and health; also what Test runs.</summary>
    public static NodeScript List(IEnumerable<string>? names = null, string? root = null, IEnumerable<string>? paths = null) =>
        NodeScript.Compose("list", new Dictionary<string, string>
        {
            ["ROOT"] = NormalizeRoot(root),
            ["NAMES"] = Names(names),
            ["PATHS"] = Paths(paths),
        });

    /// <summary>Repair Stale, NotMounted and Failed services (Hung too with force); all services when none are selected.</summary>
    public static NodeScript Repair(IEnumerable<string>? names = null, bool force = false, int waitSeconds = 60, IEnumerable<string>? paths = null) =>
        NodeScript.Compose("repair", new Dictionary<string, string>
        {
            ["ROOT"] = string.Empty,
            ["NAMES"] = Names(names),
            ["PATHS"] = Paths(paths),
            ["FORCE"] = Flag(force),
            ["WAIT_SECONDS"] = Seconds(waitSeconds),
        });

    /// <summary>Start, stop, restart, enable or disable the selected services.</summary>
    public static NodeScript Control(ServiceAction action, IEnumerable<string>? names, int waitSeconds = 60, IEnumerable<string>? paths = null, string? root = null) =>
        NodeScript.Compose("control", new Dictionary<string, string>
        {
            ["ROOT"] = string.IsNullOrEmpty(root) || action is ServiceAction.Enable or ServiceAction.Disable
                ? NormalizeRoot(root)
                : throw new S3MountException("S3MountRootUnsupported", S3MountErrorKind.InvalidArgument, $"{action} needs a running node; in an image (-Root) only Enable and Disable apply.", root),
            ["NAMES"] = Names(names),
            ["PATHS"] = Paths(paths),
            ["ACTION"] = action.ToString().ToLowerInvariant(),
            ["WAIT_SECONDS"] = Seconds(waitSeconds),
        }, requireSelection: true);

    /// <summary>Remove the selected services.</summary>
    public static NodeScript Remove(IEnumerable<string>? names, bool force = false, bool removeDirectory = false, string? root = null, IEnumerable<string>? paths = null) =>
        NodeScript.Compose("remove", new Dictionary<string, string>
        {
            ["ROOT"] = NormalizeRoot(root),
            ["NAMES"] = Names(names),
            ["PATHS"] = Paths(paths),
            ["FORCE"] = Flag(force),
            ["REMOVE_DIR"] = Flag(removeDirectory),
            ["HEALTH_PROGRAM"] = HealthUnits.ProgramPath,
        }, requireSelection: true);

    /// <summary>Mount paths to select services by (normalised; any absolute path a unit may mount).</summary>
    internal static string Paths(IEnumerable<string>? paths) =>
        string.Join("\n", (paths ?? Enumerable.Empty<string>())
            .Select(p => MountPath.NormalizeAbsolute(p, "The mount path", ErrorIds.PathInvalid, refuseSystem: false)).Distinct(StringComparer.Ordinal));

    /// <summary>Validates an offline root: absolute, normalised, not <c>/</c> (that is the live system).</summary>
    public static string NormalizeRoot(string? root)
    {
        if (string.IsNullOrEmpty(root))
        {
            return string.Empty;
        }

        return MountPath.NormalizeAbsolute(root, "The image root (-Root)", "S3MountRootInvalid", refuseSystem: true);
    }

    internal static string Names(IEnumerable<string>? names) =>
        string.Join(" ", (names ?? Enumerable.Empty<string>()).Select(UnitNames.Normalize).Distinct(StringComparer.Ordinal));

    private static string Flag(bool value) => value ? "1" : "0";

    private static string Seconds(int seconds) =>
        seconds is < 1 or > 3600
            ? throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument, $"A wait of {seconds} s is out of range (1 to 3600).", seconds)
            : seconds.ToString(CultureInfo.InvariantCulture);
}
