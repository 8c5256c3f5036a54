using System;
using System.Linq;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Units;

namespace S3Mount;

/// <summary>
/// A mount service on a node. Carries where it is (<c>InstanceId</c> for a fleet node, <c>Root</c> for an offline
/// image, neither for this machine) and <c>Name</c>, <c>Bucket</c>, <c>Prefix</c>, <c>Path</c>, <c>User</c>,
/// <c>Group</c>, <c>Options</c>, <c>ExtraArguments</c>, <c>Environment</c>, which the other cmdlets bind by property
/// name: piped on, it acts where it came from, and New-S3MountService rebuilds exactly this mount from it.
/// </summary>
public sealed class S3MountService
{
    public string Name { get; set; } = string.Empty;

    /// <summary>Where the service is, as the Node column shows it: the instance id, the image root, or the host name.</summary>
    public string Node => InstanceId ?? Root ?? ComputerName ?? string.Empty;

    /// <summary>The EC2 instance the service is on, when reached through SSM; null on this machine and in an image.</summary>
    public string? InstanceId { get; set; }

    /// <summary>The host name the node reported.</summary>
    public string? ComputerName { get; set; }

    /// <summary>The offline image root the service was read from or written to; null on a live node.</summary>
    public string? Root { get; set; }

    /// <summary>The SSM command that reached the node (fleet results only).</summary>
    public string? CommandId { get; set; }

    public string Bucket { get; set; } = string.Empty;
    public string? Prefix { get; set; }
    public string Path { get; set; } = string.Empty;

    /// <summary><c>s3://bucket/prefix/</c>.</summary>
    public string Uri => "s3://" + Bucket + "/" + (Prefix ?? string.Empty);

    public string User { get; set; } = "root";
    public string? Group { get; set; }
    public MountHealth Health { get; set; }
    public string HealthReason { get; set; } = string.Empty;
    public string ActiveState { get; set; } = string.Empty;
    public string SubState { get; set; } = string.Empty;
    public bool Enabled { get; set; }
    public bool Mounted { get; set; }
    public int Restarts { get; set; }
    public UnitOrigin Origin { get; set; }
    public string UnitPath { get; set; } = string.Empty;

    /// <summary>The mount-s3 options; shown as mount-s3 takes them (<c>--read-only --allow-other</c>).</summary>
    public MountOptions Options { get; set; } = MountOptions.Default;

    public string[] ExtraArguments { get; set; } = Array.Empty<string>();
    public string[] Environment { get; set; } = Array.Empty<string>();
    public string[] Warnings { get; set; } = Array.Empty<string>();

    /// <summary>New-S3MountService only: false when the same spec was already in place (nothing written or restarted).</summary>
    public bool? Changed { get; set; }

    /// <summary>New-S3MountService only: a recipe-made unit was taken over under its name.</summary>
    public bool? Adopted { get; set; }

    internal static S3MountService From(MountService s, string? instanceId, string? root = null, string? commandId = null) => new()
    {
        Name = s.Name,
        InstanceId = instanceId ?? s.InstanceId,
        ComputerName = s.ComputerName,
        Root = root,
        CommandId = commandId,
        Bucket = s.Bucket,
        Prefix = s.Prefix,
        Path = s.Path,
        User = s.User,
        Group = s.Group,
        Health = s.Health,
        HealthReason = s.HealthReason,
        ActiveState = s.ActiveState,
        SubState = s.SubState,
        Enabled = s.Enabled,
        Mounted = s.Mounted,
        Restarts = s.Restarts,
        Origin = s.Origin,
        UnitPath = s.UnitPath,
        Options = s.Options,
        ExtraArguments = s.Spec.ExtraArguments.ToArray(),
        Environment = s.Spec.Environment.ToArray(),
        Warnings = s.Warnings.ToArray(),
    };

    public override string ToString() => Name;
}

/// <summary>The health of one mount service (Test-S3MountService).</summary>
public sealed class S3MountHealth
{
    public string Name { get; set; } = string.Empty;

    /// <summary>Where the service is: the instance id, the image root, or the host name.</summary>
    public string Node => InstanceId ?? Root ?? ComputerName ?? string.Empty;

    public string? InstanceId { get; set; }
    public string? ComputerName { get; set; }
    public string? Root { get; set; }
    public string? CommandId { get; set; }
    public string Bucket { get; set; } = string.Empty;
    public string Path { get; set; } = string.Empty;
    public MountHealth Health { get; set; }
    public string Reason { get; set; } = string.Empty;
    public bool Mounted { get; set; }
    public string ActiveState { get; set; } = string.Empty;

    /// <summary>True when <see cref="Health"/> is Healthy.</summary>
    public bool IsHealthy => Health == MountHealth.Healthy;

    internal static S3MountHealth From(MountService s, string? instanceId, string? root = null, string? commandId = null) => new()
    {
        Name = s.Name,
        InstanceId = instanceId ?? s.InstanceId,
        ComputerName = s.ComputerName,
        Root = root,
        CommandId = commandId,
        Bucket = s.Bucket,
        Path = s.Path,
        Health = s.Health,
        Reason = s.HealthReason,
        Mounted = s.Mounted,
        ActiveState = s.ActiveState,
    };

    public override string ToString() => Name + ": " + Health;
}

/// <summary>What Repair-S3MountService did to one service.</summary>
public sealed class S3MountRepair
{
    public string Name { get; set; } = string.Empty;

    /// <summary>Where the service is: the instance id or the host name.</summary>
    public string Node => InstanceId ?? ComputerName ?? string.Empty;

    public string? InstanceId { get; set; }
    public string? ComputerName { get; set; }
    public string? CommandId { get; set; }
    public string Bucket { get; set; } = string.Empty;
    public string Path { get; set; } = string.Empty;

    /// <summary>none (already healthy), repair, or skipped (Hung without -Force).</summary>
    public string Action { get; set; } = string.Empty;
    public MountHealth Before { get; set; }
    public MountHealth After { get; set; }
    public string BeforeReason { get; set; } = string.Empty;
    public string AfterReason { get; set; } = string.Empty;

    internal static S3MountRepair From(RepairResult r, string? host, string? instanceId, string? commandId = null) => new()
    {
        Name = r.Name,
        InstanceId = instanceId,
        ComputerName = host,
        CommandId = commandId,
        Bucket = r.Service.Bucket,
        Path = r.Service.Path,
        Action = r.Action,
        Before = r.Before,
        After = r.After,
        BeforeReason = r.BeforeReason,
        AfterReason = r.AfterReason,
    };

    public override string ToString() => Name + ": " + Before + " -> " + After;
}

/// <summary>What is installed on a node (Get-MountpointS3), or what Install-MountpointS3 did.</summary>
public sealed class MountpointInstallation
{
    /// <summary>Where mount-s3 is: the instance id, the image root, or the host name.</summary>
    public string Node => InstanceId ?? Root ?? ComputerName ?? string.Empty;

    public string? InstanceId { get; set; }
    public string? ComputerName { get; set; }
    public string? Root { get; set; }
    public string? CommandId { get; set; }
    public string OsId { get; set; } = string.Empty;
    public string OsVersion { get; set; } = string.Empty;
    public string Architecture { get; set; } = string.Empty;

    /// <summary>The installed mount-s3 release, or null when none is installed.</summary>
    public MountpointVersion? InstalledVersion { get; set; }

    /// <summary>What <c>mount-s3 --version</c> printed.</summary>
    public string? VersionText { get; set; }
    public string? BinaryPath { get; set; }
    public string? PackageSource { get; set; }
    public string PackageFormat { get; set; } = string.Empty;
    public string PackageManager { get; set; } = string.Empty;
    public MountpointVersion? PreviousVersion { get; set; }

    /// <summary>The fingerprint of the key that signed the installed package.</summary>
    public string? SignedBy { get; set; }

    /// <summary>False when nothing was downloaded or installed (the version was already there).</summary>
    public bool Changed { get; set; }
    public bool Supported { get; set; }
    public string? UnsupportedReason { get; set; }
    public bool IsInstalled => BinaryPath is not null;
    public string[] Warnings { get; set; } = Array.Empty<string>();

    internal static MountpointInstallation From(Engine.Install.MountpointInstallation i, string? instanceId, string? root = null, string? commandId = null) => new()
    {
        InstanceId = instanceId ?? i.InstanceId,
        ComputerName = i.ComputerName,
        Root = root,
        CommandId = commandId,
        OsId = i.OsId,
        OsVersion = i.OsVersion,
        Architecture = i.Architecture,
        InstalledVersion = i.InstalledVersion,
        VersionText = i.VersionText,
        BinaryPath = i.BinaryPath,
        PackageSource = i.PackageSource,
        PackageFormat = i.PackageFormat,
        PackageManager = i.PackageManager,
        PreviousVersion = i.PreviousVersion,
        SignedBy = i.SignedBy,
        Changed = i.Changed,
        Supported = i.Supported,
        UnsupportedReason = i.UnsupportedReason,
        Warnings = i.Warnings.ToArray(),
    };

    public override string ToString() => Node + ": " + (InstalledVersion?.ToString() ?? "not installed");
}

/// <summary>How one mapped mount (or an extra unit) of a node stands against a mount map (Compare-S3MountService).</summary>
public class S3MountDrift
{
    /// <summary>Where: the instance id, the image root, or the host name.</summary>
    public string Node => InstanceId ?? Root ?? ComputerName ?? string.Empty;

    public string? InstanceId { get; set; }
    public string? ComputerName { get; set; }
    public string? Root { get; set; }
    public string? CommandId { get; set; }

    /// <summary>InSync, Missing, Drifted, Extra or Foreign.</summary>
    public MountDrift State { get; set; }

    /// <summary>The unit (the mapped mount's, or the one found: an extra or foreign unit keeps its own name).</summary>
    public string Name { get; set; } = string.Empty;

    public string Bucket { get; set; } = string.Empty;
    public string? Prefix { get; set; }
    public string Path { get; set; } = string.Empty;

    /// <summary><c>s3://bucket/prefix/</c>.</summary>
    public string Uri => "s3://" + Bucket + "/" + (Prefix ?? string.Empty);

    /// <summary>The fields that differ, found to mapped (Field, Old, New): Drifted and Foreign.</summary>
    public MountSpecDifference[] Differences { get; set; } = Array.Empty<MountSpecDifference>();

    /// <summary>Why it is not in sync, in words.</summary>
    public string Detail { get; set; } = string.Empty;

    /// <summary>Who wrote the unit found (S3Mount or Recipe); null when there is none.</summary>
    public UnitOrigin? Origin { get; set; }

    /// <summary>The position of the mount in the map (1-based); 0 for an extra unit.</summary>
    public int MapIndex { get; set; }

    internal void Fill(SyncItem item, string? instanceId, string? host, string? root)
    {
        var spec = item.Desired ?? item.Current?.Spec;
        InstanceId = instanceId;
        ComputerName = host;
        Root = root;
        State = item.State;
        Name = item.Name;
        Bucket = spec?.Bucket ?? string.Empty;
        Prefix = spec?.Prefix;
        Path = spec?.Path ?? string.Empty;
        Differences = item.Differences.ToArray();
        Detail = item.Detail;
        Origin = item.Current?.Origin;
        MapIndex = item.Index;
    }

    public override string ToString() => Node + " " + Path + ": " + State;
}

/// <summary>What Sync-S3MountService did to one mapped mount (or an extra unit) of a node.</summary>
public sealed class S3MountSyncResult : S3MountDrift
{
    /// <summary>InSync (nothing done), Created, Updated, Adopted, Removed, Kept (extra or foreign, left alone), Failed.</summary>
    public S3MountSyncAction Action { get; set; }

    /// <summary>False when nothing on the node was written or started for this mount.</summary>
    public bool Changed { get; set; }

    /// <summary>True when the service was started or restarted (only mounts that changed ever are).</summary>
    public bool Restarted { get; set; }

    /// <summary>Why the change failed (it was rolled back), with its error id; null otherwise.</summary>
    public string? Error { get; set; }

    public string? ErrorId { get; set; }

    public override string ToString() => Node + " " + Path + ": " + Action;
}

/// <summary>What Sync-S3MountService did to a mount.</summary>
public enum S3MountSyncAction
{
    InSync,
    Created,
    Updated,
    Adopted,
    Removed,
    Kept,
    Failed,
}
