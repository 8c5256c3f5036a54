#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Fleet calls against the fake SSM service (tests/S3Mount.FakeSsm.Host): the same wire protocol as SSM Run Command,
# with simulated nodes whose file systems are sandboxes, so create, list and remove really happen on each node.
Describe 'Fleet through SSM Run Command' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        Import-Module $ModuleManifest -Force -ErrorAction Stop
        $fake = Start-FakeSsm -Nodes 3 -Offline 1
        $aws = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey }
        $user = [System.Environment]::UserName
    }

    AfterAll {
        Stop-FakeSsm $fake
        Remove-Module S3Mount -ErrorAction SilentlyContinue
    }

    It 'creates a mount on every piped node and returns one object per node, with an error for the offline node only' {
        $nodes = @($fake.Instances + $fake.Offline) | ForEach-Object { [pscustomobject]@{ InstanceId = $_; State = 'running' } }
        $created = $nodes | New-S3MountService -Bucket genomics-ref -Path /fsx/ref -ReadOnly -User $user -SsmRegion $aws.Region -SsmEndpoint $aws.EndpointUrl -AccessKey $aws.AccessKey -SecretKey $aws.SecretKey -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        @($created.InstanceId | Sort-Object) | Should -Be @($fake.Instances | Sort-Object)
        $created | ForEach-Object { $_.Changed | Should -BeTrue }
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'SsmAgentOffline*'
        $errs[0].TargetObject | Should -Be $fake.Offline[0]
    }

    It 'lists them back with InstanceId, and Get | Remove goes back to the right nodes' {
        $listed = @(Get-S3MountService -InstanceId $fake.Instances @aws)
        $listed.Count | Should -Be 3
        @($listed.InstanceId | Sort-Object) | Should -Be @($fake.Instances | Sort-Object)
        $listed | ForEach-Object { $_.Path | Should -Be '/fsx/ref' }
        $listed | Remove-S3MountService @aws -Confirm:$false
        @(Get-S3MountService -InstanceId $fake.Instances @aws).Count | Should -Be 0
    }

    It 'a node-side refusal is a non-terminating error with the script''s own id, per node' {
        $errs = $null
        New-S3MountService -InstanceId $fake.Instances -Bucket my-bucket -Path /mnt/s3 -User 'no-such-user-s3m' -SsmRegion $aws.Region -SsmEndpoint $aws.EndpointUrl -AccessKey $aws.AccessKey -SecretKey $aws.SecretKey -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $errs.Count | Should -Be 3
        $errs | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'S3MountUserUnknown*'; $_.CategoryInfo.Category | Should -Be 'ObjectNotFound' }
    }

    It 'a missing named profile is a terminating error, never a silent fallback' {
        { Get-S3MountService -InstanceId $fake.Instances -ProfileName 'no-such-profile-s3m' -EndpointUrl $fake.Endpoint -Region $fake.Region -ErrorAction Stop } |
            Should -Throw -ErrorId 'SsmProfileNotFound'
    }
}

Describe 'Side by side with AWS.Tools' -Skip:(-not (Get-Module -ListAvailable -Name AWS.Tools.Common)) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        $pwsh = (Get-Process -Id $PID).Path
    }

    # Each order in a fresh process: AWS.Tools ships its own AWSSDK.Core; S3Mount's loads in its own context.
    It 'loads and calls SSM whichever is imported first (<First> first)' -ForEach @(
        @{ First = 'AWS.Tools' }
        @{ First = 'S3Mount' }
    ) {
        $tools = @('AWS.Tools.Common', 'AWS.Tools.S3', 'AWS.Tools.SimpleSystemsManagement') | Where-Object { Get-Module -ListAvailable -Name $_ }
        $importTools = ($tools | ForEach-Object { "Import-Module $_ -ErrorAction Stop" }) -join '; '
        $importS3Mount = "Import-Module '$ModuleManifest' -ErrorAction Stop"
        $imports = if ($First -eq 'AWS.Tools') { "$importTools; $importS3Mount" } else { "$importS3Mount; $importTools" }
        # A fleet call makes S3Mount load AWSSDK.Core and sign a request; the endpoint refuses the connection.
        $probe = "Get-S3MountService -InstanceId i-0123456789abcdef0 -EndpointUrl http://127.0.0.1:9 -Region us-east-1 -AccessKey AKIAEXAMPLE000000001 -SecretKey x -ErrorVariable e -ErrorAction SilentlyContinue; `$null = Get-AWSRegion; 'ids:' + ((`$e | ForEach-Object FullyQualifiedErrorId) -join ',')"
        $out = & $pwsh -NoProfile -NonInteractive -Command "$imports; $probe" 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
        ($out | Out-String) | Should -Not -Match 'Method not found|Could not load file or assembly|Assembly with same name is already loaded'
        ($out | Out-String) | Should -Match 'ids:.*Ssm'
    }
}
