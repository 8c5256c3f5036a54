using System;
using System.Collections.Generic;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Install;

/// <summary>What a node is and which Mountpoint it has: the result of an install, or of a report.</summary>
public sealed class MountpointInstallation
{
    /// <summary>The node's host name.</summary>
    public string? ComputerName { get; internal set; }

    /// <summary>The EC2 instance id when the node was reached through SSM; null locally (set by the fleet layer).</summary>
    public string? InstanceId { get; set; }

    /// <summary><c>ID</c> of /etc/os-release, e.g. <c>amzn</c>, <c>ubuntu</c>.</summary>
    public string OsId { get; internal set; } = string.Empty;

    /// <summary><c>VERSION_ID</c> of /etc/os-release, e.g. <c>2023</c>, <c>22.04</c>.</summary>
    public string OsVersion { get; internal set; } = string.Empty;

    /// <summary>The release bucket's architecture name (<c>x86_64</c> or <c>arm64</c>); <c>uname -m</c> when unsupported.</summary>
    public string Architecture { get; internal set; } = string.Empty;

    /// <summary>What <c>uname -m</c> printed (<c>aarch64</c> for arm64).</summary>
    public string Machine { get; internal set; } = string.Empty;

    /// <summary>The installed release, parsed from <c>mount-s3 --version</c> (official or distro format); null when none.</summary>
    public MountpointVersion? InstalledVersion { get; internal set; }

    /// <summary>The first line of <c>mount-s3 --version</c>, as printed.</summary>
    public string? VersionText { get; internal set; }

    /// <summary>The mount-s3 binary found on the node; null when none.</summary>
    public string? BinaryPath { get; internal set; }

    /// <summary>
    /// Where the package came from: the release bucket URL and version, the URL (without query), the s3:// URI,
    /// the file on the node, or <c>distro</c>. For a report, the package that owns the binary
    /// (<c>dpkg mount-s3 1.23.0</c>, <c>rpm mount-s3-1.21.0-1.amzn2023</c>) or <c>none</c>.
    /// </summary>
    public string? PackageSource { get; internal set; }

    /// <summary>The package format this node takes: <c>rpm</c>, <c>deb</c> or <c>suse.rpm</c>; empty when unsupported.</summary>
    public string PackageFormat { get; internal set; } = string.Empty;

    /// <summary>The package manager used: <c>apt</c>, <c>dnf</c>, <c>yum</c> or <c>zypper</c>.</summary>
    public string PackageManager { get; internal set; } = string.Empty;

    /// <summary>The package database's view of the installed package (<c>dpkg mount-s3 1.23.0</c>), or <c>none</c>.</summary>
    public string? InstalledPackage { get; internal set; }

    /// <summary>The version installed before this install ran; null when there was none (or for a report).</summary>
    public MountpointVersion? PreviousVersion { get; internal set; }

    /// <summary>The primary-key fingerprint that signed the installed package; null when nothing was verified.</summary>
    public string? SignedBy { get; internal set; }

    /// <summary>True when the install changed the node; false when the asked version was already there.</summary>
    public bool Changed { get; internal set; }

    /// <summary>False when S3Mount cannot install Mountpoint on this node (report only; install refuses instead).</summary>
    public bool Supported { get; internal set; } = true;

    /// <summary>Why the node is not supported (report only).</summary>
    public string? UnsupportedReason { get; internal set; }

    /// <summary>True when a mount-s3 binary is on the node.</summary>
    public bool IsInstalled => BinaryPath is not null;

    public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

    public override string ToString() =>
        (ComputerName ?? "node") + ": " + OsId + " " + OsVersion + " " + Architecture + ", mount-s3 " + (InstalledVersion?.ToString() ?? (IsInstalled ? "(unknown version)" : "not installed"));
}

/// <summary>The plan the install script chose for a node (format, package manager, FUSE packages, release URL).</summary>
internal sealed class InstallPlan
{
    public string OsId { get; set; } = string.Empty;
    public string OsVersion { get; set; } = string.Empty;
    public string Machine { get; set; } = string.Empty;
    public string Architecture { get; set; } = string.Empty;
    public string Format { get; set; } = string.Empty;
    public string PackageManager { get; set; } = string.Empty;
    public string FusePackages { get; set; } = string.Empty;
    public bool DistroRepository { get; set; }
    public string Url { get; set; } = string.Empty;
    public IReadOnlyList<string> Warnings { get; set; } = Array.Empty<string>();
}
