#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# The README's mount-map tour, run as written (see Readme.Tests.ps1 for the markers):
#   map-file        the map, saved as compute.psd1 exactly as the README shows it
#   map             its fleet commands, verbatim, against the fake SSM's sandbox nodes tagged Cluster=pcluster-1
#   map-transcript  every 'PS>' command of the transcript, in an image set up as the transcript describes; the rows
#                   and summaries printed must be the README's
Describe 'The README mount-map tour' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
        Import-Module $ModuleManifest -Force -ErrorAction Stop
        $blocks = Get-ReadmeBlock
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('s3mount-readme-map-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        $mapFile = @($blocks | Where-Object Kind -EQ 'map-file')
        Set-Content -LiteralPath (Join-Path $dir 'compute.psd1') -Value $mapFile[0].Code
    }

    AfterAll {
        Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'the map file is one valid map' {
        $mapFile.Count | Should -Be 1
        $mapFile[0].Code | Should -Match '^# compute\.psd1'
        $img = New-S3MountSandbox
        try {
            $report = @(Compare-S3MountService (Join-Path $dir 'compute.psd1') -Root $img -InformationAction SilentlyContinue)
            $report.Count | Should -BeGreaterThan 0
            @($report | Where-Object State -NE 'Missing') | Should -BeNullOrEmpty -Because 'an empty image has none of the map''s mounts'
        }
        finally { Remove-Item -LiteralPath $img -Recurse -Force }
    }

    It 'the fleet commands run as written on three nodes tagged Cluster=pcluster-1, and leave them equal to the map' {
        $fake = Start-FakeSsm -Nodes 3 -Offline 0 -Tag 'Cluster=pcluster-1'
        try {
            $code = @($blocks | Where-Object Kind -EQ 'map')[0].Code
            $ids = "'" + ($fake.Instances -join "','") + "'"
            # The session the README assumes: $nodes from Get-EC2Instance (objects with an InstanceId), a good node and
            # the others, and the AWS settings a user has (here the fake SSM's endpoint and keys as defaults).
            $script = @"
Set-Location '$dir'
Import-Module '$ModuleManifest'
`$PSDefaultParameterValues = @{ '*-S3Mount*:EndpointUrl' = '$($fake.Endpoint)'; '*-S3Mount*:Region' = '$($fake.Region)'; '*-S3Mount*:AccessKey' = '$($fake.AccessKey)'; '*-S3Mount*:SecretKey' = '$($fake.SecretKey)'; '*-S3Mount*:WarningAction' = 'SilentlyContinue' }
`$nodes = @($ids) | ForEach-Object { [pscustomobject]@{ InstanceId = `$_ } }
`$good = `$nodes[0].InstanceId
`$others = `$nodes[1..2].InstanceId
`$Error.Clear()
$code
'ERRORS ' + `$Error.Count
`$Error | ForEach-Object { 'ERROR ' + `$_.FullyQualifiedErrorId + ': ' + `$_ }
Get-S3MountService -InstanceId `$nodes.InstanceId | ForEach-Object { 'HAS ' + `$_.InstanceId + ' ' + `$_.Path + ' ' + `$_.Options }
"@
            $out = Invoke-FreshPwsh $script | Out-String
            $out | Should -Match 'ERRORS 0' -Because $out
            foreach ($id in $fake.Instances) {
                $has = @($out -split "`n" | Where-Object { $_ -like "HAS $id *" })
                $has.Count | Should -Be 3 -Because "$id has exactly the map's three mounts"
                ($has -join "`n") | Should -Match '/fsx/ref --region us-east-1 --read-only --allow-other'
                ($has -join "`n") | Should -Match '/mnt/scratch .*--cache /mnt/nvme/cache --max-cache-size 20480'
            }
            # One SendCommand per step, never one per mount or node.
            $state = Get-FakeSsmState $fake
            @($state.commands).Count | Should -BeLessOrEqual 8
        }
        finally { Stop-FakeSsm $fake }
    }

    It 'the transcript is what the cmdlets print' {
        $transcript = @($blocks | Where-Object Kind -EQ 'map-transcript')[0].Code
        $img = New-S3MountSandbox
        try {
            # The image the transcript describes: an extra S3Mount mount, a drifted one, one in sync, and a unit the
            # field recipe made on a mapped path.
            $q = @{ WarningAction = 'SilentlyContinue' }
            $null = New-S3MountService -Root $img -Bucket old-bucket -Path /mnt/old @q
            $null = New-S3MountService -Root $img -Bucket genomics-ref -Path /fsx/ref -AllowOther -User ec2-user -BucketRegion us-east-1 @q
            $null = New-S3MountService -Root $img -Bucket s3://results/run-42/ -Path /mnt/results -AllowDelete -User ec2-user -BucketRegion us-east-1 @q
            $recipe = (Get-Content -Raw (Join-Path $RepoRoot 'tests/S3Mount.Engine.Tests/Fixtures/recipe/default-options.service')) -replace 'my-bucket', 'scratch' -replace '/mnt/s3', '/mnt/scratch'
            Set-Content -LiteralPath (Join-Path $img 'etc/systemd/system/mountpoint-s3-5d2af1c0.service') -Value $recipe
            $commands = @($transcript -split "`n" | Where-Object { $_ -like 'PS> *' } | ForEach-Object { $_.Substring(4).Replace('/tmp/img', $img) })
            $commands.Count | Should -BeGreaterOrEqual 2
            $script = "`$PSStyle.OutputRendering = 'PlainText'; Set-Location '$dir'; Import-Module '$ModuleManifest'; " + (($commands | ForEach-Object { "$_ *>&1 | Out-String -Width 120" }) -join '; ')
            $out = (Invoke-FreshPwsh $script | Out-String).Replace($img, '/tmp/img')

            # Every row and summary line of the README appears in what was printed.
            $row = '^(?<state>[A-Z][a-z]+)\s+(?<path>/\S+)\s+(?<uri>s3://\S+)'
            foreach ($line in $transcript -split "`n") {
                if ($line -match $row) {
                    $out | Should -Match ("(?m)^" + [regex]::Escape($Matches.state) + '\s+' + [regex]::Escape($Matches.path) + '\s+' + [regex]::Escape($Matches.uri)) -Because "the README shows '$line'"
                }
                elseif ($line -match '^(Compare|Sync)-S3MountService: \d+ node') {
                    $out | Should -Match ([regex]::Escape($line.Trim())) -Because 'the summary line is the README''s'
                }
                elseif ($line -like 'What if: *') {
                    $out | Should -Match ([regex]::Escape($line.Trim()).Replace('mountpoint-s3-03f7f480', 'mountpoint-s3-[0-9a-f]{8}'))
                }
            }
        }
        finally { Remove-Item -LiteralPath $img -Recurse -Force }
    }
}
