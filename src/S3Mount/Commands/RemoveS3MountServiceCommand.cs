using System.Management.Automation;
using S3Mount.Engine.Node;

namespace S3Mount.Commands;

/// <summary>
/// Removes mount services: stop, disable, make sure nothing is mounted (lazy unmount only with -Force), delete the
/// unit, daemon-reload; the directory only with -RemoveDirectory and only if empty. fuse.conf is left alone.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveS3MountServiceCommand : ServiceCmdlet
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

    protected override void ProcessRecord()
    {
        var names = SelectedNames();
        var paths = SelectedPaths();
        var script = Build(() => NodeOperations.Remove(names, Force, RemoveDirectory, Root, paths));
        if (IsFleet)
        {
            if (Root is not null)
            {
                Terminate(new Engine.Errors.S3MountException("S3MountParameterConflict", Engine.Errors.S3MountErrorKind.InvalidArgument, "-Root removes from an image on this machine; it cannot be combined with -InstanceId or -Target.", "Root"));
            }

            foreach (var id in CurrentInstances)
            {
                if (Approve(Describe(names, paths) + Where(id), "Remove mount service", Force))
                {
                    Collect(id, names, paths);
                }
            }

            return;
        }

        if (Approve(Describe(names, paths) + (Root is null ? Where(null) : " in " + Root), "Remove mount service", Force))
        {
            Write(NodeResultParser.Removals(RunLocal(script, null)), null);
        }
    }

    protected override void EndProcessing()
    {
        if (Target is { Length: > 0 })
        {
            var script = Build(() => NodeOperations.Remove(SelectedNames(), Force, RemoveDirectory, null, SelectedPaths()));
            if (Approve(Describe(SelectedNames(), SelectedPaths()) + Where(null), "Remove mount service", Force))
            {
                RunFleet("Remove-S3MountService", NodeResultParser.Removals, (id, r, _) => Write(r, id), script);
            }

            return;
        }

        QueueCollected((names, paths) => NodeOperations.Remove(names, Force, RemoveDirectory, null, paths));
        RunFleet("Remove-S3MountService", NodeResultParser.Removals, (id, r, _) => Write(r, id));
    }

    private void Write(NodeResult<RemoveResult> result, string? instanceId)
    {
        foreach (var r in result.Items)
        {
            WriteVerbose($"{(instanceId is null ? string.Empty : instanceId + ": ")}removed {r.Name} ({r.UnitPath}); directory: {r.Directory}");
        }

        foreach (var w in result.Warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + w);
        }

        WriteFailures(result.Failures, instanceId);
    }
}
