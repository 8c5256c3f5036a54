using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Lab;

namespace S3Mount.IntegrationTests;

/// <summary>
/// Boots a lab once per test collection. Tests reach it through <see cref="Lab"/>, which skips
/// the test when the lab cannot run here (not root, no systemd-nspawn, ...) and fails it instead
/// when the CI environment variable is set.
/// </summary>
public abstract class LabFixture : IAsyncLifetime
{
    private NodeLab? lab;
    private Exception? startError;

    /// <summary>Why the lab cannot run here, or null.</summary>
    public string? UnavailableReason { get; private set; }

    /// <summary>The running lab (skips or fails the calling test when there is none).</summary>
    public NodeLab Lab
    {
        get
        {
            if (this.UnavailableReason is not null)
            {
                LabSkip.SkipOrFail(this.UnavailableReason);
            }

            if (this.startError is not null)
            {
                throw new LabException("the node lab did not start: " + this.startError.Message, this.startError);
            }

            return this.lab ?? throw new LabException("the node lab was not started");
        }
    }

    /// <summary>Number of nodes to boot.</summary>
    protected abstract int NodeCount { get; }

    /// <summary>Lab options.</summary>
    protected abstract LabOptions Options { get; }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        this.UnavailableReason = NodeLab.UnavailableReason;
        if (this.UnavailableReason is not null)
        {
            return;
        }

        try
        {
            this.lab = await NodeLab.StartAsync(this.NodeCount, this.Options, CancellationToken.None);
        }
        catch (Exception e) when (e is LabException or OperationCanceledException or System.IO.IOException or InvalidOperationException)
        {
            this.startError = e;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (this.lab is not null)
        {
            await this.lab.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>Three nodes with the mount-s3 stand-in preinstalled, S3 and package servers.</summary>
public sealed class NodeLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 3;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = true };
}

/// <summary>One node without mount-s3 (for install tests), plus the package server.</summary>
public sealed class BareNodeLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = false, StartS3 = false, NodeNamePrefix = "bare" };
}

/// <summary>Collection of tests sharing <see cref="NodeLabFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class NodeLabCollection : ICollectionFixture<NodeLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Node lab";
}

/// <summary>Collection of tests sharing <see cref="BareNodeLabFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class BareNodeLabCollection : ICollectionFixture<BareNodeLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Bare node lab";
}

/// <summary>The skip policy: skip where the lab cannot run, but fail under CI.</summary>
public static class LabSkip
{
    /// <summary>Skips the current test with <paramref name="reason"/>, or fails it when CI is set.</summary>
    /// <param name="reason">Plain reason.</param>
    [StackTraceHidden]
    public static void SkipOrFail(string reason)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Assert.Fail("the node lab cannot run, and CI is set so this is a failure: " + reason);
        }

        Assert.Skip(reason);
    }
}
