using S3Mount.Lab;

namespace S3Mount.IntegrationTests;

/// <summary>One node for the engine-rendered unit tests (issue 3's acceptance): S3, no package server.</summary>
public sealed class EngineUnitLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "unit" };
}

/// <summary>Two nodes for the node operations (issue 4's acceptance): S3, no package server.</summary>
public sealed class NodeOpsLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 2;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "ops" };
}

/// <summary>Collection of tests sharing <see cref="EngineUnitLabFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class EngineUnitLabCollection : ICollectionFixture<EngineUnitLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Engine units on a node";
}

/// <summary>Collection of tests sharing <see cref="NodeOpsLabFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class NodeOpsLabCollection : ICollectionFixture<NodeOpsLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Node operations";
}

/// <summary>One node for the node lock under concurrency: S3, no package server.</summary>
public sealed class NodeLockLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "lock" };
}

/// <summary>Collection of tests sharing <see cref="NodeLockLabFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class NodeLockLabCollection : ICollectionFixture<NodeLockLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Node lock";
}

/// <summary>One node for the fault tests (issue 12): S3, no package server.</summary>
public sealed class HealLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "heal" };
}

/// <summary>One node with its own S3 server, which the outage test takes away for five minutes.</summary>
public sealed class OutageLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "outage" };
}

/// <summary>Collection of tests sharing <see cref="HealLabFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class HealLabCollection : ICollectionFixture<HealLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Self-healing";
}

/// <summary>Collection of tests sharing <see cref="OutageLabFixture"/> (its own S3 server, so it runs beside the others).</summary>
[CollectionDefinition(Name)]
public sealed class OutageLabCollection : ICollectionFixture<OutageLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "S3 outage";
}
