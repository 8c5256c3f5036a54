using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Node;

namespace S3Mount.Commands;

/// <summary>Lists mount services, S3Mount's and recipe-made, with state and health.</summary>
[Cmdlet(VerbsCommon.Get, "S3MountService")]
[OutputType(typeof(S3MountService))]
public sealed class GetS3MountServiceCommand : ServiceCmdlet
{
    /// <summary>Only services of these buckets (wildcards allowed).</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Bucket { get; set; }

    /// <summary>An offline image root to list from instead of this machine.</summary>
    [Parameter]
    public string? Root { get; set; }

    protected override void ProcessRecord()
    {
        var names = SelectedNames();
        var wildcard = names.Any(WildcardPattern.ContainsWildcardCharacters);
        var exact = wildcard ? Array.Empty<string>() : (IReadOnlyList<string>)names;
        if (IsFleet)
        {
            if (Root is not null)
            {
                Terminate(new Engine.Errors.S3MountException("S3MountParameterConflict", Engine.Errors.S3MountErrorKind.InvalidArgument, "-Root writes into an image on this machine; it cannot be combined with -InstanceId or -Target.", "Root"));
            }

            foreach (var id in CurrentInstances)
            {
                Collect(id, exact, wildcard ? Array.Empty<string>() : SelectedPaths());
            }

            return;
        }

        var block = RunLocal(Build(() => NodeOperations.List(exact, Root, wildcard ? null : SelectedPaths())), null);
        var result = NodeResultParser.Services(block);
        Write(result, null, names);
    }

    protected override void EndProcessing()
    {
        if (Target is { Length: > 0 })
        {
            var names = SelectedNames();
            var wildcard = names.Any(WildcardPattern.ContainsWildcardCharacters);
            RunFleet("Get-S3MountService", NodeResultParser.Services, (id, r, _) => Write(r, id, names),
                Build(() => NodeOperations.List(wildcard ? null : names, null, wildcard ? null : SelectedPaths())));
            return;
        }

        var n = SelectedNames();
        QueueCollected((names, paths) => NodeOperations.List(names, null, paths));
        RunFleet("Get-S3MountService", NodeResultParser.Services, (id, r, _) => Write(r, id, n));
    }

    private void Write(NodeResult<MountService> result, string? instanceId, IReadOnlyList<string> names)
    {
        var namePatterns = names.Where(WildcardPattern.ContainsWildcardCharacters).Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToList();
        var bucketPatterns = (Bucket ?? Array.Empty<string>()).Select(b => WildcardPattern.Get(b, WildcardOptions.IgnoreCase)).ToList();
        foreach (var w in result.Warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + w);
        }

        foreach (var s in result.Items)
        {
            if ((namePatterns.Count == 0 || namePatterns.Any(p => p.IsMatch(s.Name))) && (bucketPatterns.Count == 0 || bucketPatterns.Any(p => p.IsMatch(s.Bucket))))
            {
                WriteObject(S3MountService.From(s, instanceId));
            }
        }

        WriteFailures(result.Failures, instanceId);
    }
}
