using System;

namespace S3Mount.Lab;

/// <summary>How a <see cref="NodeLab"/> is set up.</summary>
public sealed class LabOptions
{
    /// <summary>Number of nodes when <see cref="NodeLab.StartAsync(int, LabOptions?, System.Threading.CancellationToken)"/> is given 0 or less. Default 1.</summary>
    public int Nodes { get; init; } = 1;

    /// <summary>Whether the mount-s3 stand-in package is installed in the nodes (false for install tests). Default true.</summary>
    public bool StandInPreinstalled { get; init; } = true;

    /// <summary>Start the loopback S3 server (s3rver). Default true.</summary>
    public bool StartS3 { get; init; } = true;

    /// <summary>Start the loopback package server (stand-in .debs, signatures, KEYS). Default true.</summary>
    public bool StartPackageServer { get; init; } = true;

    /// <summary>Node names are this prefix plus 1, 2, ... (lowercase letters, digits, dashes). Default "node".</summary>
    public string NodeNamePrefix { get; init; } = "node";

    /// <summary>Path of lab.sh; default: $S3MOUNT_LAB_SCRIPT, else tests/lab/lab.sh found above the test assembly.</summary>
    public string? LabScript { get; init; }

    /// <summary>Limit for the whole setup (a cold base build included). Default 5 minutes.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
