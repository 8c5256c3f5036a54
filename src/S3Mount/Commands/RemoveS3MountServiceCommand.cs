using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>
/// Removes mount services: stop, disable, make sure nothing is mounted (a busy mount is lazily detached only with
/// -LazyUnmount), delete the unit, daemon-reload; the directory only with -RemoveDirectory and only if empty.
/// fuse.conf is left alone.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveS3MountServiceCommand : ServiceCmdlet<NodeResult<RemoveResult>>
{
    /// <summary>Skip confirmation (never -WhatIf).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Lazily unmount (umount -l) a mount that is still there after the service stopped, instead of keeping the unit.</summary>
    [Parameter]
    public SwitchParameter LazyUnmount { get; set; }

    /// <summary>Also remove the mount directory, if it is empty.</summary>
    [Parameter]
    public SwitchParameter RemoveDirectory { get; set; }

    /// <summary>An offline image root to remove from instead of this machine.</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }

    protected override string Activity => "Remove-S3MountService";

    protected override string Action => "Remove mount service";

    protected override bool SkipConfirmation => Force;

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root) =>
        NodeOperations.Remove(names, LazyUnmount, RemoveDirectory, root, paths);

    protected override NodeResult<RemoveResult> Parse(ResultBlock block) => NodeResultParser.Removals(block);

    protected override void Write(NodeResult<RemoveResult> result, string? instanceId, string? root, Selection selection)
    {
        var prefix = instanceId is null ? string.Empty : instanceId + ": ";
        foreach (var r in result.Items)
        {
            WriteVerbose($"{prefix}removed {r.Name} ({r.UnitPath}); directory: {r.Directory}");
        }

        WriteWarnings(result.Warnings, instanceId);
        WriteFailures(result.Failures, instanceId);
    }
}
