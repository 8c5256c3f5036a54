using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Commands;

/// <summary>Lists mount services, S3Mount's and recipe-made, with state and health.</summary>
[Cmdlet(VerbsCommon.Get, "S3MountService", DefaultParameterSetName = LocalSet)]
[OutputType(typeof(S3MountService))]
public sealed class GetS3MountServiceCommand : ServiceCmdlet<NodeResult<MountService>>
{
    /// <summary>Only services of these buckets (wildcards allowed).</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Bucket { get; set; }

    /// <summary>An offline image root to list from instead of this machine.</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }

    protected override string Activity => "Get-S3MountService";

    protected override bool SupportsWildcards => true;

    protected override NodeScript BuildScript(IReadOnlyList<string> names, IReadOnlyList<string> paths, string? root) => NodeOperations.List(names, root, paths);

    protected override NodeResult<MountService> Parse(ResultBlock block) => NodeResultParser.Services(block);

    protected override void Write(NodeResult<MountService> result, string? instanceId, string? root, Selection selection)
    {
        var bucketPatterns = (Bucket ?? Array.Empty<string>()).Select(b => WildcardPattern.Get(b, WildcardOptions.IgnoreCase)).ToList();
        WriteWarnings(result.Warnings, instanceId);
        foreach (var s in result.Items)
        {
            if (selection.Matches(s.Name, s.Path) && (bucketPatterns.Count == 0 || bucketPatterns.Any(p => p.IsMatch(s.Bucket))))
            {
                WriteWarnings(s.Warnings, instanceId, s.Name);
                WriteObject(S3MountService.From(s, instanceId, root, CurrentCommandId));
            }
        }

        WriteFailures(result.Failures, instanceId);
    }
}
