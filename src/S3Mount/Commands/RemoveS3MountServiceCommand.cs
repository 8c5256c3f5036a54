using System.Collections.Generic;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>
/// Removes mount services: stop, disable, make sure nothing is mounted (lazy unmount only with -Force), delete the
/// unit, daemon-reload; the directory only with -RemoveDirectory and only if empty. fuse.conf is left alone.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveS3MountServiceCommand : ServiceCmdlet<NodeResult<RemoveResult>>
{
    /// <summary>Lazily unmount a mount that is still there after stopping, and skip confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Also remove the mount directory, if it is empty.</summary>
    [Parameter]
    public SwitchParameter RemoveDirectory { get; set; }

    /// <summary>An offline image root to remove from instead of this machine.</summary>
    [Parameter]
    public string? Root { get; set; }

    protected override string Activity => "Remove-S3MountService";

    protected override string Action => "Remove mount service";

    protected override bool SkipConfirmation => Force;

    protected override string? ImageRoot => Root;

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths) => NodeOperations.Remove(names, Force, RemoveDirectory, Root, paths);

    protected override NodeResult<RemoveResult> Parse(ResultBlock block) => NodeResultParser.Removals(block);

    protected override void Write(NodeResult<RemoveResult> result, string? instanceId)
    {
        var prefix = instanceId is null ? string.Empty : instanceId + ": ";
        foreach (var r in result.Items)
        {
            WriteVerbose($"{prefix}removed {r.Name} ({r.UnitPath}); directory: {r.Directory}");
        }

        foreach (var w in result.Warnings)
        {
            WriteWarning(prefix + w);
        }

        WriteFailures(result.Failures, instanceId);
    }
}
